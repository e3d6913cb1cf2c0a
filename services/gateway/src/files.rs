//! Client REST for files: upload a file for a conversation, download one with HTTP ranges.
//! Both are allowed to the conversation's current participants only, decided on the
//! conversation's subject (as a send is), not on a read model; a download also needs a message
//! of the conversation naming the file that is not recalled (or none yet, for a new upload).

use crate::GatewayState;
use crate::query::ApiQuery;
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::files::Upload;
use tidings_api::json::ApiPath;
use tidings_domain::{ConvId, FileId};
use tidings_store::ReadModels;
use tokio::io::AsyncReadExt;

/// The file routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route("/v1/conversations/{conv}/files", post(upload::<S>))
        .route("/v1/files/{file_id}", get(download::<S>))
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    name: Option<String>,
    token: Option<String>,
}

/// Takes the request's body, as sent, as the file's bytes.
async fn upload<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    ApiPath(conv): ApiPath<String>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let (parts, body) = request.into_parts();
    let me = state.me(&parts.headers, query.token.as_deref()).await?;
    let conv = ConvId::parse(conv)?;
    let commands = &state.shared.commands;
    if !commands.participant(&me.app, &me.user, &conv).await? {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "not a conversation of this user",
        ));
    }
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let content_length = match header(header::CONTENT_LENGTH) {
        Some(v) => Some(v.trim().parse::<u64>().map_err(|_| {
            ApiError::new(ErrorCode::InvalidRequest, "Content-Length is not a number")
        })?),
        None => None,
    };
    let stored = commands
        .files()
        .upload(
            Upload {
                app: me.app,
                uploader: me.user,
                conv,
                name: query.name.unwrap_or_else(|| "file".into()),
                content_type: header(header::CONTENT_TYPE).map(str::to_owned),
                content_length,
            },
            body,
        )
        .await?;
    Ok(Json(json!({
        "file_id": stored.file_id,
        "conv": stored.conv,
        "name": stored.name,
        "size": stored.size,
        "mime": stored.mime,
    })))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn download<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    method: Method,
    headers: HeaderMap,
    ApiPath(file_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Response, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let file_id = FileId::parse(file_id)?;
    let commands = &state.shared.commands;
    let files = commands.files();
    let not_found = || ApiError::new(ErrorCode::NotFound, format!("file {file_id} not found"));
    let stored = files.stat(&me.app, &file_id).await?.ok_or_else(not_found)?;
    commands
        .may_read_file(&me.app, &me.user, &stored.conv, &file_id)
        .await?;
    let etag = format!("\"{file_id}\"");
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let range = if if_range_ok {
        parse_range(
            headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
            stored.size,
        )
    } else {
        Range::Full
    };
    let (status, start, len) = match range {
        Range::Full => (StatusCode::OK, 0, stored.size),
        Range::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Range::Unsatisfiable => {
            let mut response = (
                StatusCode::RANGE_NOT_SATISFIABLE,
                Json(json!({
                    "code": ErrorCode::InvalidRequest,
                    "message": format!("the range is outside the file's {} bytes", stored.size),
                })),
            )
                .into_response();
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{}", stored.size)),
            );
            return Ok(response);
        }
    };
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        read_range(files, &me.app, &file_id, start, len).await?
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, header_value(&stored.mime));
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(header::ETAG, header_value(&etag));
    out.insert(
        header::CONTENT_DISPOSITION,
        header_value(&content_disposition(&stored.name, &stored.mime)),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        out.insert(
            header::CONTENT_RANGE,
            header_value(&format!(
                "bytes {start}-{}/{}",
                start + len - 1,
                stored.size
            )),
        );
    }
    Ok(response)
}

/// The body of a download: `len` bytes of the file from `start`.
async fn read_range(
    files: &tidings_api::files::Files,
    app: &tidings_domain::AppId,
    file_id: &FileId,
    start: u64,
    len: u64,
) -> Result<Body, ApiError> {
    let mut object = files.open(app, file_id).await?;
    if start > 0 {
        // Objects are read in order: skip to the range's start before answering, so a
        // failure is still an error answer rather than a cut-off body.
        let skipped = tokio::io::copy(&mut (&mut object).take(start), &mut tokio::io::sink())
            .await
            .map_err(|e| ApiError::unavailable("reading a file", e))?;
        if skipped != start {
            return Err(ApiError::unavailable("reading a file", "it ended early"));
        }
    }
    Ok(Body::from_stream(tokio_util::io::ReaderStream::new(
        object.take(len),
    )))
}

/// Header text built from validated parts (ids, `type/subtype`, ASCII and percent-encoding).
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// What a `Range` header asks of a file of `size` bytes (never 0: empty uploads are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// No range, or one to ignore (another unit, several ranges, bad syntax): the whole file.
    Full,
    /// Bytes `start..=end`, within the file.
    Part { start: u64, end: u64 },
    /// A well-formed range that starts past the end: `416`.
    Unsatisfiable,
}

/// Reads a single `bytes=` range (RFC 9110 section 14): `a-b`, `a-` or `-suffix`. Several
/// ranges and malformed ones are ignored (the whole file is sent), as the RFC allows.
fn parse_range(value: Option<&str>, size: u64) -> Range {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Range::Full;
    };
    if spec.contains(',') {
        return Range::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Full;
    };
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => Range::Unsatisfiable,
            Some(n) => Range::Part {
                start: size - n.min(size),
                end: size - 1,
            },
            None => Range::Full,
        },
        (first, "") => match number(first) {
            Some(start) if start >= size => Range::Unsatisfiable,
            Some(start) => Range::Part {
                start,
                end: size - 1,
            },
            None => Range::Full,
        },
        (first, last) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start <= end => {
                if start >= size {
                    Range::Unsatisfiable
                } else {
                    Range::Part {
                        start,
                        end: end.min(size - 1),
                    }
                }
            }
            _ => Range::Full,
        },
    }
}

/// `inline` for images (their bytes were checked at upload), `attachment` for everything
/// else; the name as an ASCII fallback and as RFC 8187 UTF-8.
fn content_disposition(name: &str, mime: &str) -> String {
    let kind = if mime.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        let part = |start, end| Range::Part { start, end };
        for (header, want) in [
            (None, Range::Full),
            (Some("bytes=0-9"), part(0, 9)),
            (Some("bytes=5-"), part(5, 99)),
            (Some("bytes=-10"), part(90, 99)),
            (Some("bytes=-1000"), part(0, 99)),
            (Some("bytes=90-1000"), part(90, 99)),
            (Some("bytes=99-99"), part(99, 99)),
            (Some("bytes=100-"), Range::Unsatisfiable),
            (Some("bytes=100-200"), Range::Unsatisfiable),
            (Some("bytes=-0"), Range::Unsatisfiable),
            (Some("bytes=9-5"), Range::Full),
            (Some("bytes=0-1,5-6"), Range::Full),
            (Some("items=0-1"), Range::Full),
            (Some("bytes=a-b"), Range::Full),
            (Some("bytes=+1-2"), Range::Full),
            (Some("bytes=-"), Range::Full),
        ] {
            assert_eq!(parse_range(header, 100), want, "{header:?}");
        }
    }

    #[test]
    fn dispositions_quote_names_safely() {
        assert_eq!(
            content_disposition("cat.png", "image/png"),
            "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png"
        );
        assert_eq!(
            content_disposition("résumé \"v2\".pdf", "application/pdf"),
            "attachment; filename=\"r_sum_ _v2_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.pdf"
        );
        assert!(HeaderValue::from_str(&content_disposition("a\u{7f}b", "text/plain")).is_ok());
    }
}
