//! Who is calling: the user token from `Authorization: Bearer` or `?token=`.

use axum::http::HeaderMap;
use tidings_api::commands::Commands;
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::tokens::{Principal, Tokens};

/// Verifies the caller's token, then that its app is not disabled, its user not deactivated
/// and the token not revoked (an older epoch than the user's), as the app's and the user's
/// subjects say at this moment: a disable, revocation or deactivation answered 200 holds for
/// every later request. A missing, expired, forged or revoked one is `unauthorized`.
pub async fn authenticate(
    tokens: &Tokens,
    commands: &Commands,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Result<Principal, ApiError> {
    let principal = verify_token(tokens, headers, query_token).await?;
    commands
        .access(&principal.app, &principal.user)
        .await?
        .admit(principal.epoch)?;
    Ok(principal)
}

/// Checks the token itself (signature, expiry, app as it is now), without asking who its user
/// is now.
pub(crate) async fn verify_token(
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
    tokens.verify(token.trim()).await
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
