//! A JSON body extractor whose rejections speak the protocol's error codes.

use crate::error::{ApiError, ErrorCode};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// Like `axum::Json`, but a bad body is `400 {"code":"invalid_request"}` (or `invalid_id`).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(JsonRejection::BytesRejection(e)) => {
                Err(ApiError::new(ErrorCode::TooLarge, e.body_text()))
            }
            Err(e) => Err(rejection_error(&e.body_text())),
        }
    }
}

/// Maps a deserialisation message to `invalid_id` when an id failed validation.
pub fn rejection_error(message: &str) -> ApiError {
    let code = if message.contains("invalid id for ") {
        ErrorCode::InvalidId
    } else {
        ErrorCode::InvalidRequest
    };
    ApiError::new(code, message)
}
