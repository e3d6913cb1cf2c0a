//! The server API's per-app request limit, as middleware after the signature check (the app
//! is known only once the request is verified).

use crate::http::ServerApiState;
use crate::signature::SignedBy;
use axum::Extension;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Takes one of the signing app's server-API requests on this instance, or answers
/// `rate_limited` with `Retry-After`.
pub(crate) async fn limit_app(
    State(state): State<ServerApiState>,
    Extension(SignedBy(app)): Extension<SignedBy>,
    request: Request,
    next: Next,
) -> Response {
    match state.commands.rate_limits().server_request(&app) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}
