//! Who is calling: the user token from `Authorization: Bearer` or `?token=`.

use axum::http::HeaderMap;
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::tokens::{Principal, Tokens};

/// Verifies the caller's token; a missing, expired or forged one is `unauthorized`.
pub fn authenticate(
    tokens: &Tokens,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Result<Principal, ApiError> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token = bearer
        .or(query_token)
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "missing token"))?;
    tokens.verify(token.trim())
}

/// Whether a browser Origin may connect: no allowlist, no Origin header (not a browser), or
/// an Origin on the list.
pub fn origin_allowed(allowed: &[String], headers: &HeaderMap) -> bool {
    if allowed.is_empty() || allowed.iter().any(|o| o == "*") {
        return true;
    }
    match headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(origin) => allowed.iter().any(|o| o.eq_ignore_ascii_case(origin)),
    }
}
