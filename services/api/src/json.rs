//! A JSON body extractor whose rejections speak the protocol's error codes.

use crate::error::{ApiError, ErrorCode};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// How `tidings_domain::IdError`'s message starts: a deserialisation error that starts so is an
/// id that failed validation.
const ID_ERROR: &str = "invalid id for ";

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
            Err(JsonRejection::JsonDataError(e)) => {
                let code = serde_message(&e)
                    .map_or(ErrorCode::InvalidRequest, |m| rejection_error(&m).code);
                Err(ApiError::new(code, e.body_text()))
            }
            Err(e) => Err(ApiError::new(ErrorCode::InvalidRequest, e.body_text())),
        }
    }
}

/// serde_json's own message inside axum's rejection: its `body_text` puts the JSON path first,
/// and the path is made of the client's keys.
fn serde_message(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(e) = error.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>() {
            return Some(e.inner().to_string());
        }
        next = error.source();
    }
    None
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
    use tidings_domain::UserId;

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
