//! The request extractors of every route, whose rejections speak the protocol's error codes:
//! a JSON object body (`JsonBody`) and path parameters (`ApiPath`).

use crate::error::{ApiError, ErrorCode};
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// How `tidings_domain::IdError`'s message starts: a deserialisation error that starts so is an
/// id that failed validation.
const ID_ERROR: &str = "invalid id for ";

/// Like `axum::Json`, but a bad body is `400 {"code":"invalid_request"}` (or `invalid_id`), a
/// body over the limit `413 too_large`, and the body must be a JSON object: serde would also
/// take a struct from an array (`["alice", "Alice"]`), which the protocol never sends.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "expected a body with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::TooLarge, e.body_text())
            } else {
                ApiError::new(ErrorCode::InvalidRequest, e.body_text())
            }
        })?;
        json_object(&bytes).map(JsonBody)
    }
}

/// Parses a body that must be one JSON object.
pub fn json_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "the body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| rejection_error(&e.to_string()))
}

/// `application/json`, or a `+json` type, with any parameters (`; charset=utf-8`).
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype
                .get(subtype.len().saturating_sub(5)..)
                .is_some_and(|s| s.eq_ignore_ascii_case("+json")))
}

/// Like `axum::extract::Path`, but a parameter that does not decode (not UTF-8 once
/// percent-decoded, or not the type wanted) is `400 invalid_request` (or `invalid_id`).
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                Err(rejection_error(&e.body_text()))
            }
            // A handler asking for parameters its route does not have: a bug, not bad input.
            Err(e) => Err(ApiError::new(ErrorCode::Internal, e.body_text())),
        }
    }
}

/// Maps a deserialisation error's message to `invalid_id` when an id failed validation. Only the
/// start counts: further on, serde quotes the client's own text (a variant or field name).
pub fn rejection_error(message: &str) -> ApiError {
    let code = if message.starts_with(ID_ERROR) {
        ErrorCode::InvalidId
    } else {
        ErrorCode::InvalidRequest
    };
    ApiError::new(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::HeaderValue;
    use tidings_domain::UserId;

    #[derive(Debug, serde::Deserialize)]
    struct Named {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn a_body_is_one_json_object() {
        assert!(json_object::<Named>(br#" {"name": "x"}"#).is_ok());
        for bad in [
            &br#"["x"]"#[..],
            b"\"x\"",
            b"7",
            b"null",
            b"",
            b"{",
            br#"{"name": 7}"#,
        ] {
            let error = json_object::<Named>(bad).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRequest, "{bad:?}");
        }
    }

    #[test]
    fn json_content_types_are_recognised() {
        for (value, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/problem+json", true),
            ("text/plain", false),
            ("application/jsonx", false),
            ("json", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(json_content_type(&headers), json, "{value}");
        }
        assert!(!json_content_type(&HeaderMap::new()));
    }

    #[derive(Debug, serde::Deserialize)]
    struct Sample {
        #[allow(dead_code)]
        user_id: UserId,
        #[serde(default)]
        #[allow(dead_code)]
        counts: Vec<u64>,
    }

    async fn extract(body: &'static str) -> Result<Sample, ApiError> {
        let request = Request::post("/")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        JsonBody::<Sample>::from_request(request, &())
            .await
            .map(|JsonBody(sample)| sample)
    }

    #[tokio::test]
    async fn only_an_id_that_fails_validation_is_invalid_id() {
        assert!(extract(r#"{"user_id":"alice"}"#).await.is_ok());
        let error = extract(r#"{"user_id":"a b"}"#).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidId, "{}", error.message);
        // Found by fuzz/ (rest_body): the client's own keys and strings appear in the message,
        // and used to make any refusal `invalid_id`.
        for body in [
            "{\"user_id\":\"alice\",\"counts\":[\"invalid id for \"]}",
            "{\"invalid id for \":\"\u{1}\"}",
            "{\"user_id\":\"alice\",\"invalid id for \":[}",
        ] {
            let error = extract(body).await.unwrap_err();
            assert_eq!(
                error.code,
                ErrorCode::InvalidRequest,
                "{body}: {}",
                error.message
            );
        }
    }
}
