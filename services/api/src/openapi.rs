//! `GET /v1/openapi.json`: the OpenAPI 3.1 description of every REST route. The document is
//! kept by hand in `docs/openapi.json` and compiled in; the end-to-end tests check it against
//! the routers (same paths and methods) and `scripts/schemathesis` against live answers.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../../../docs/openapi.json");

/// The route serving [`DOCUMENT`], on every process that serves the API or the client REST.
pub fn router() -> axum::Router {
    axum::Router::new().route(
        "/v1/openapi.json",
        axum::routing::get(|| async {
            ([(CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
        }),
    )
}
