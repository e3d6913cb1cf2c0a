//! `min_pos` on every client route: a request that names a write's `pos` is served only once
//! the read models cover it, after a bounded wait (then `503 unavailable` with `Retry-After`).
//! Handlers that keep caches (profiles) read the position from the `MinPos` extension.

use crate::GatewayState;
use crate::auth::verify_token;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tidings_api::error::{ApiError, ErrorCode};
use tidings_store::ReadModels;

/// The events-stream position a request's reads must reflect; 0 when it names none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MinPos(pub u64);

#[derive(Debug, Deserialize)]
struct Params {
    min_pos: Option<u64>,
    token: Option<String>,
}

/// Seconds a client is told to wait before retrying a read whose position was not reached.
const RETRY_AFTER_SECS: &str = "1";

/// The middleware.
pub async fn wait<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    mut request: Request,
    next: Next,
) -> Response {
    let params = match Query::<Params>::try_from_uri(request.uri()) {
        Ok(Query(params)) => params,
        Err(e) => {
            return ApiError::new(ErrorCode::InvalidRequest, e.body_text()).into_response();
        }
    };
    let pos = params.min_pos.unwrap_or(0);
    if pos > state.shared.coverage.known() {
        // Only a caller with a valid token may make the server wait.
        let token = params.token.as_deref();
        if let Err(e) = verify_token(&state.tokens, request.headers(), token).await {
            return e.into_response();
        }
        if let Err(e) = state.shared.coverage.wait_for(pos).await {
            let mut response = e.into_response();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECS),
            );
            return response;
        }
    }
    request.extensions_mut().insert(MinPos(pos));
    next.run(request).await
}
