//! Who is calling: the user token from `Authorization: Bearer` or `?token=`.

use crate::users::Users;
use axum::http::HeaderMap;
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::tokens::{Principal, Tokens};
use tidings_store::ReadModels;

/// Verifies the caller's token, then that its user is active and the token not revoked (an
/// older epoch than the user's). A missing, expired, forged or revoked one is `unauthorized`.
pub async fn authenticate<S: ReadModels>(
    tokens: &Tokens,
    users: &Users<S>,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Result<Principal, ApiError> {
    let principal = verify_token(tokens, headers, query_token)?;
    if let Some(row) = users.get(&principal.app, &principal.user).await? {
        if row.deactivated {
            return Err(ApiError::new(
                ErrorCode::Unauthorized,
                "user is deactivated",
            ));
        }
        if principal.epoch < row.token_epoch {
            return Err(ApiError::new(ErrorCode::Unauthorized, "token revoked"));
        }
    }
    Ok(principal)
}

fn verify_token(
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
