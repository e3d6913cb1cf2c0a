//! Uploaded files, in the `TIDINGS_FILES` object store bucket (`nats/objects/files.json`).
//!
//! A file is uploaded for one conversation and readable by that conversation's participants:
//! the object (named `<app>/<file_id>`) carries the conversation, the uploader, the name and the
//! media type in its metadata, so no read model is needed to authorise a download. A message
//! naming a file is checked against the same metadata before it is recorded.

use crate::apps::Apps;
use crate::error::{ApiError, ErrorCode};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::{self, object_store};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tidings_domain::body::{valid_file_name, valid_mime};
use tidings_domain::{AppId, Body, ConvId, FileId, UserId};
use tidings_events::definitions;

/// Bytes read before the content check: every image signature `infer` knows lies within them.
pub const SNIFF_BYTES: usize = 8192;

/// Longest an upload may take from its start to its last byte.
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// Image types an upload may declare; the bytes must be of that type.
const IMAGE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "image/avif",
    "image/heif",
    "image/heic",
    "image/jxl",
    "image/vnd.microsoft.icon",
    "image/x-icon",
];

/// Types a browser would run or render as a page if a download were ever shown inline.
const ACTIVE_TYPES: &[&str] = &[
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "text/ecmascript",
    "application/ecmascript",
    "text/xml",
    "application/xml",
    "text/xsl",
];

const META_CONV: &str = "conv";
const META_UPLOADER: &str = "uploader";
const META_NAME: &str = "name";
const META_MIME: &str = "mime";

/// A stored file's facts, as its object's metadata records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredFile {
    pub file_id: FileId,
    pub conv: ConvId,
    /// Who uploaded it.
    pub uploader: UserId,
    pub name: String,
    pub size: u64,
    pub mime: String,
}

/// What an upload states besides its bytes.
#[derive(Debug, Clone)]
pub struct Upload {
    pub app: AppId,
    pub uploader: UserId,
    pub conv: ConvId,
    pub name: String,
    /// The request's `Content-Type` header, as sent.
    pub content_type: Option<String>,
    /// The request's `Content-Length` header, parsed.
    pub content_length: Option<u64>,
}

/// Bytes per stored chunk (the object store client's default).
const CHUNK_BYTES: usize = 128 * 1024;

/// Chunks published and not yet acknowledged, at most, while an upload streams in.
const CHUNKS_IN_FLIGHT: usize = 8;

/// Tries at removing a failed upload's chunks (over about 6 s).
const PURGE_ATTEMPTS: u32 = 6;

/// The files bucket, cheap to clone.
#[derive(Clone)]
pub struct Files {
    js: jetstream::Context,
    /// The bucket's stream, `OBJ_<bucket>`.
    stream: jetstream::stream::Stream,
    bucket_name: String,
    bucket: object_store::ObjectStore,
    apps: Apps,
}

/// Why storing an upload failed.
enum StoreFailure {
    /// Reading the request's body failed (cut off, too slow).
    Read(std::io::Error),
    /// JetStream did not take a chunk or the metadata.
    Nats(String),
}

impl Files {
    /// Opens the files bucket, creating it replicated like the events stream when missing.
    /// Safe to call from every process at every start.
    pub async fn provision(
        js: &jetstream::Context,
        replicas: usize,
        apps: Apps,
    ) -> anyhow::Result<Self> {
        let config = definitions::files_bucket(replicas);
        let bucket_name = config.bucket.clone();
        let bucket = match js.get_object_store(&bucket_name).await {
            Ok(bucket) => bucket,
            Err(_) => js.create_object_store(config).await?,
        };
        let stream = js.get_stream(format!("OBJ_{bucket_name}")).await?;
        Ok(Self {
            js: js.clone(),
            stream,
            bucket_name,
            bucket,
            apps,
        })
    }

    /// The largest file the app's users may upload.
    pub fn max_bytes(&self, app: &AppId) -> u64 {
        self.apps.max_file_bytes(app)
    }

    fn object_name(app: &AppId, file_id: &FileId) -> String {
        format!("{app}/{file_id}")
    }

    /// The file's facts, or `None` when there is no such file (or it was deleted).
    pub async fn stat(
        &self,
        app: &AppId,
        file_id: &FileId,
    ) -> Result<Option<StoredFile>, ApiError> {
        let info = match self.bucket.info(Self::object_name(app, file_id)).await {
            Ok(info) if !info.deleted => info,
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ApiError::unavailable("reading a file's metadata", e)),
        };
        let meta = |key: &str| info.metadata.get(key).cloned().unwrap_or_default();
        let parsed = (|| {
            Some(StoredFile {
                file_id: file_id.clone(),
                conv: ConvId::parse(meta(META_CONV)).ok()?,
                uploader: UserId::parse(meta(META_UPLOADER)).ok()?,
                name: meta(META_NAME),
                size: info.size as u64,
                mime: meta(META_MIME),
            })
        })();
        parsed.map(Some).ok_or_else(|| {
            tracing::error!(%app, %file_id, "a stored file has unreadable metadata");
            ApiError::new(ErrorCode::Internal, "the file's metadata is unreadable")
        })
    }

    /// The file's bytes, from the start.
    pub async fn open(
        &self,
        app: &AppId,
        file_id: &FileId,
    ) -> Result<object_store::Object, ApiError> {
        self.bucket
            .get(Self::object_name(app, file_id))
            .await
            .map_err(|e| match e.kind() {
                object_store::GetErrorKind::NotFound => {
                    ApiError::new(ErrorCode::NotFound, format!("file {file_id} not found"))
                }
                _ => ApiError::unavailable("reading a file", e),
            })
    }

    /// Stores an upload's body under a new file id, streaming it into the bucket. The caller
    /// has checked that the uploader takes part in the conversation.
    pub async fn upload(
        &self,
        upload: Upload,
        body: axum::body::Body,
    ) -> Result<StoredFile, ApiError> {
        let max = self.max_bytes(&upload.app);
        let Some(length) = upload.content_length else {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "an upload needs a Content-Length",
            ));
        };
        if length > max {
            return Err(ApiError::new(
                ErrorCode::TooLarge,
                format!("the file is {length} bytes; this app's limit is {max}"),
            ));
        }
        if length == 0 {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "the file is empty",
            ));
        }
        if !valid_file_name(&upload.name) {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "name must be 1-255 bytes without control characters or slashes",
            ));
        }
        let declared = declared_type(upload.content_type.as_deref())?;
        let deadline = tokio::time::Instant::now() + UPLOAD_TIMEOUT;
        let mut stream = body.into_data_stream();
        let mut prefix = BytesMut::new();
        let mut rest: Option<Bytes> = None;
        while prefix.len() < SNIFF_BYTES {
            let next = tokio::time::timeout_at(deadline, stream.next())
                .await
                .map_err(|_| cut_off("the upload took over 10 minutes"))?;
            match next {
                Some(Ok(chunk)) => {
                    let room = SNIFF_BYTES - prefix.len();
                    if chunk.len() > room {
                        prefix.extend_from_slice(&chunk[..room]);
                        rest = Some(chunk.slice(room..));
                    } else {
                        prefix.extend_from_slice(&chunk);
                    }
                }
                Some(Err(e)) => return Err(cut_off(e)),
                None => break,
            }
        }
        check_content(&declared, &prefix)?;

        let file_id =
            FileId::parse(uuid::Uuid::now_v7().to_string()).expect("uuid text is a valid file id");
        let metadata = HashMap::from([
            (META_CONV.to_owned(), upload.conv.to_string()),
            (META_UPLOADER.to_owned(), upload.uploader.to_string()),
            (META_NAME.to_owned(), upload.name.clone()),
            (META_MIME.to_owned(), declared.clone()),
        ]);
        let name = Self::object_name(&upload.app, &file_id);
        // The body is bounded by its Content-Length (hyper ends it there and fails it when the
        // connection closes early); the count guards the limit all the same.
        let mut seen = 0u64;
        let chunks = futures_util::stream::iter([Ok(prefix.freeze())])
            .chain(futures_util::stream::iter(rest.map(Ok)))
            .chain(stream.map(|chunk| chunk.map_err(std::io::Error::other)))
            .map(move |chunk| {
                let chunk = chunk?;
                seen += chunk.len() as u64;
                if seen > length {
                    return Err(std::io::Error::other("the body is longer than declared"));
                }
                Ok(chunk)
            });
        // On its own task: a client that goes away mid-upload must not stop the cleanup of
        // the chunks it sent.
        let this = self.clone();
        let stored = tokio::spawn(async move {
            this.store(name, metadata, chunks.boxed(), length, deadline)
                .await
        })
        .await
        .map_err(|e| ApiError::unavailable("storing a file", e))?;
        match stored {
            Ok(()) => {}
            Err(StoreFailure::Read(e)) => return Err(cut_off(e)),
            Err(StoreFailure::Nats(e)) => return Err(ApiError::unavailable("storing a file", e)),
        }
        Ok(StoredFile {
            file_id,
            conv: upload.conv,
            uploader: upload.uploader,
            name: upload.name,
            size: length,
            mime: declared,
        })
    }

    /// Writes an object as the object store lays it out (chunks on `$O.<bucket>.C.<nuid>`,
    /// then its info on `$O.<bucket>.M.<name>`), publishing up to `CHUNKS_IN_FLIGHT` chunks
    /// ahead of their acknowledgements. The object exists only once its info is written, and
    /// only if exactly `length` bytes arrived by `deadline`. Unlike the client's `put`, a
    /// failure purges the chunks already written, so a cut-off upload leaves nothing behind.
    async fn store(
        &self,
        name: String,
        metadata: HashMap<String, String>,
        chunks: futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>,
        length: u64,
        deadline: tokio::time::Instant,
    ) -> Result<(), StoreFailure> {
        let nuid = uuid::Uuid::now_v7().simple().to_string();
        let chunk_subject = format!("$O.{}.C.{nuid}", self.bucket_name);
        let mut acks = VecDeque::new();
        let written = match self
            .write_chunks(&chunk_subject, chunks, deadline, &mut acks)
            .await
        {
            Ok((size, _, _)) if size as u64 != length => Err(StoreFailure::Read(
                std::io::Error::other("the body is shorter than its Content-Length"),
            )),
            Ok((size, count, digest)) => {
                let info = object_store::ObjectInfo {
                    name: name.clone(),
                    description: None,
                    metadata,
                    headers: None,
                    options: Some(object_store::ObjectOptions {
                        link: None,
                        max_chunk_size: Some(CHUNK_BYTES),
                    }),
                    bucket: self.bucket_name.clone(),
                    nuid,
                    size,
                    chunks: count,
                    modified: Some(async_nats::datetime::now()),
                    digest: Some(format!("SHA-256={}", URL_SAFE.encode(digest.as_ref()))),
                    deleted: false,
                };
                self.write_info(&name, &info).await
            }
            Err(e) => Err(e),
        };
        if written.is_err() {
            // Chunks still in flight would land after the purge: let them settle first.
            for ack in acks {
                let _ = ack.await;
            }
            self.purge(&chunk_subject).await;
        }
        written
    }

    async fn write_chunks(
        &self,
        subject: &str,
        mut chunks: futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>,
        deadline: tokio::time::Instant,
        acks: &mut VecDeque<PublishAckFuture>,
    ) -> Result<(usize, usize, ring::digest::Digest), StoreFailure> {
        let nats = |e: &dyn std::fmt::Display| StoreFailure::Nats(e.to_string());
        let mut buffer = BytesMut::new();
        // ring's SHA-256 (as the object store client's own): fast in every build profile.
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        let (mut size, mut count) = (0usize, 0usize);
        loop {
            let next = tokio::time::timeout_at(deadline, chunks.next())
                .await
                .map_err(|_| {
                    StoreFailure::Read(std::io::Error::other("the upload took over 10 minutes"))
                })?;
            let last = match next {
                Some(Ok(bytes)) => {
                    buffer.extend_from_slice(&bytes);
                    false
                }
                Some(Err(e)) => return Err(StoreFailure::Read(e)),
                None => true,
            };
            while buffer.len() >= CHUNK_BYTES || (last && !buffer.is_empty()) {
                let chunk = buffer.split_to(buffer.len().min(CHUNK_BYTES)).freeze();
                digest.update(&chunk);
                size += chunk.len();
                count += 1;
                let ack = self
                    .js
                    .publish(subject.to_owned(), chunk)
                    .await
                    .map_err(|e| nats(&e))?;
                acks.push_back(ack);
                if acks.len() > CHUNKS_IN_FLIGHT
                    && let Some(ack) = acks.pop_front()
                {
                    ack.await.map_err(|e| nats(&e))?;
                }
            }
            if last {
                break;
            }
        }
        while let Some(ack) = acks.pop_front() {
            ack.await.map_err(|e| nats(&e))?;
        }
        Ok((size, count, digest.finish()))
    }

    /// Removes a failed upload's chunks, retrying for a while: JetStream may be briefly
    /// unavailable, which may be why the upload failed.
    async fn purge(&self, chunk_subject: &str) {
        let mut backoff = std::time::Duration::from_millis(100);
        for attempt in 1..=PURGE_ATTEMPTS {
            match self.stream.purge().filter(chunk_subject).await {
                Ok(_) => return,
                Err(error) if attempt == PURGE_ATTEMPTS => {
                    tracing::warn!(%error, subject = chunk_subject, "could not purge a failed upload's chunks");
                }
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
            }
        }
    }

    /// Publishes an object's info, replacing any earlier one (`Nats-Rollup: sub`).
    async fn write_info(
        &self,
        name: &str,
        info: &object_store::ObjectInfo,
    ) -> Result<(), StoreFailure> {
        let subject = format!("$O.{}.M.{}", self.bucket_name, URL_SAFE.encode(name));
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Rollup", "sub");
        let payload = serde_json::to_vec(info).map_err(|e| StoreFailure::Nats(e.to_string()))?;
        self.js
            .publish_with_headers(subject, headers, payload.into())
            .await
            .map_err(|e| StoreFailure::Nats(e.to_string()))?
            .await
            .map_err(|e| StoreFailure::Nats(e.to_string()))?;
        Ok(())
    }

    /// Checks a message body that names a file before it is recorded in `conv`: the file
    /// exists, was uploaded for `conv`, and the body states its name, size and type.
    pub async fn check_body(
        &self,
        app: &AppId,
        conv: &ConvId,
        body: &Body,
    ) -> Result<(), ApiError> {
        let Some(named) = body.attachment() else {
            return Ok(());
        };
        let Some(stored) = self.stat(app, &named.file_id).await? else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("file {} not found", named.file_id),
            ));
        };
        if &stored.conv != conv {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "file {} was uploaded for another conversation",
                    named.file_id
                ),
            ));
        }
        let mismatch = if named.size != stored.size {
            Some("size")
        } else if named.mime != stored.mime {
            Some("mime")
        } else if named.name != stored.name {
            Some("name")
        } else {
            None
        };
        match mismatch {
            Some(field) => Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("the body's {field} differs from the uploaded file's"),
            )),
            None => Ok(()),
        }
    }
}

fn cut_off(error: impl std::fmt::Display) -> ApiError {
    tracing::info!(%error, "an upload ended early");
    ApiError::new(
        ErrorCode::InvalidRequest,
        "the upload ended before its Content-Length",
    )
}

/// The media type an upload declares: its `Content-Type` without parameters, in lowercase,
/// which must be well formed and not a type browsers run.
pub fn declared_type(content_type: Option<&str>) -> Result<String, ApiError> {
    let Some(value) = content_type else {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "an upload needs a Content-Type",
        ));
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !valid_mime(&essence) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("Content-Type {value:?} is not a media type"),
        ));
    }
    if ACTIVE_TYPES.contains(&essence.as_str()) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("files of type {essence} are not accepted"),
        ));
    }
    if essence.starts_with("image/") && !IMAGE_TYPES.contains(&essence.as_str()) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "images of type {essence} are not accepted; accepted: {}",
                IMAGE_TYPES.join(", ")
            ),
        ));
    }
    Ok(essence)
}

/// An upload declared as an image must be one: its first bytes must have that type's
/// signature. Other types are taken as declared.
pub fn check_content(declared: &str, prefix: &[u8]) -> Result<(), ApiError> {
    if !declared.starts_with("image/") {
        return Ok(());
    }
    let expected = match declared {
        "image/heic" => "image/heif",
        "image/x-icon" => "image/vnd.microsoft.icon",
        other => other,
    };
    let sniffed = infer::get(prefix).map(|t| t.mime_type());
    if sniffed == Some(expected) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "the bytes are not a {declared} image (they look like {})",
                sniffed.unwrap_or("no known type")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";

    #[test]
    fn declared_types_are_normalised_and_checked() {
        assert_eq!(
            declared_type(Some("Image/PNG; charset=binary")).unwrap(),
            "image/png"
        );
        assert_eq!(
            declared_type(Some("application/pdf")).unwrap(),
            "application/pdf"
        );
        for bad in [
            None,
            Some(""),
            Some("png"),
            Some("text/html"),
            Some("image/svg+xml"),
            Some("image/x-unknown"),
            Some("a b/c"),
        ] {
            let error = declared_type(bad).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRequest, "{bad:?}");
        }
    }

    #[test]
    fn images_must_be_what_they_claim() {
        assert!(check_content("image/png", PNG).is_ok());
        assert!(check_content("image/jpeg", JPEG).is_ok());
        assert!(check_content("image/png", JPEG).is_err());
        assert!(check_content("image/png", b"<svg xmlns=").is_err());
        assert!(check_content("image/gif", b"").is_err());
        // Other types are not sniffed: a PDF may start however it likes.
        assert!(check_content("application/pdf", b"hello").is_ok());
        assert!(check_content("application/octet-stream", PNG).is_ok());
    }
}
