//! The protocol's error codes and the one place errors become HTTP answers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tidings_domain::body::BodyError;
use tidings_domain::{DomainError, IdError};

/// Every error code in PROTOCOL.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidId,
    Unauthorized,
    Forbidden,
    NotFound,
    NotFriends,
    Blocked,
    NotMember,
    Muted,
    RateLimited,
    TooLarge,
    Conflict,
    Unavailable,
    Internal,
    BadSignature,
    StaleTimestamp,
    ReplayedNonce,
    UnknownApp,
    Rejected,
}

impl ErrorCode {
    /// The code as the protocol writes it.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidId => "invalid_id",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            NotFound => "not_found",
            NotFriends => "not_friends",
            Blocked => "blocked",
            NotMember => "not_member",
            Muted => "muted",
            RateLimited => "rate_limited",
            TooLarge => "too_large",
            Conflict => "conflict",
            Unavailable => "unavailable",
            Internal => "internal",
            BadSignature => "bad_signature",
            StaleTimestamp => "stale_timestamp",
            ReplayedNonce => "replayed_nonce",
            UnknownApp => "unknown_app",
            Rejected => "rejected",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            InvalidRequest | InvalidId => StatusCode::BAD_REQUEST,
            Unauthorized | BadSignature | StaleTimestamp | ReplayedNonce | UnknownApp => {
                StatusCode::UNAUTHORIZED
            }
            Forbidden | NotFriends | Blocked | NotMember | Muted | Rejected => {
                StatusCode::FORBIDDEN
            }
            NotFound => StatusCode::NOT_FOUND,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Conflict => StatusCode::CONFLICT,
            Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A refused or failed request: a code and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// `rejected`: the code the app's hook or word list gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `rate_limited` by a per-user or per-app limit: when to try again, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            reason: None,
            retry_after_ms: None,
        }
    }

    /// A message refused by the app's hook or word list, with the `reason` code it gave.
    pub fn rejected(reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason: Some(reason.into()),
            ..Self::new(ErrorCode::Rejected, message)
        }
    }

    /// A request over a rate limit, to be tried again after `retry_after_ms`.
    pub fn rate_limited(message: impl Into<String>, retry_after_ms: u64) -> Self {
        Self {
            retry_after_ms: Some(retry_after_ms),
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }

    /// A failure of infrastructure (NATS, store): logged here, once, and reported as `unavailable`.
    pub fn unavailable(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Self::new(ErrorCode::Unavailable, format!("{context}: try again"))
    }
}

impl From<IdError> for ApiError {
    fn from(e: IdError) -> Self {
        Self::new(ErrorCode::InvalidId, e.to_string())
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let code = match &e {
            DomainError::NotFound(_) => ErrorCode::NotFound,
            DomainError::InvalidBody(BodyError::EmptyText | BodyError::InvalidFile(_)) => {
                ErrorCode::InvalidRequest
            }
            DomainError::InvalidBody(_) => ErrorCode::TooLarge,
            DomainError::Invalid(_) => ErrorCode::InvalidRequest,
            DomainError::TooLarge(_) => ErrorCode::TooLarge,
            DomainError::Forbidden(_) => ErrorCode::Forbidden,
            DomainError::Blocked(_) => ErrorCode::Blocked,
            DomainError::NotFriends(_) => ErrorCode::NotFriends,
            DomainError::NotMember(_) => ErrorCode::NotMember,
            DomainError::Muted(_) => ErrorCode::Muted,
            DomainError::Conflict(_) => ErrorCode::Conflict,
        };
        Self::new(code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.code.status().is_client_error() {
            tracing::info!(code = ?self.code, message = %self.message, "request refused");
        }
        let retry_after = self.retry_after_ms.map(|ms| ms.div_ceil(1000).max(1));
        let mut response = (self.code.status(), Json(self)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_codes_text_is_its_serialized_form() {
        use ErrorCode::*;
        for code in [
            InvalidRequest,
            InvalidId,
            Unauthorized,
            Forbidden,
            NotFound,
            NotFriends,
            Blocked,
            NotMember,
            Muted,
            RateLimited,
            TooLarge,
            Conflict,
            Unavailable,
            Internal,
            BadSignature,
            StaleTimestamp,
            ReplayedNonce,
            UnknownApp,
            Rejected,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
