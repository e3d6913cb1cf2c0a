//! The web client at `/app`: static files built from `web/` (with the SDK in `sdk/js`) into
//! `services/tidings/app/` and compiled into the binary, so `tidings up` serves them from
//! anywhere. The built files are committed; `web/test/bundle.test.mjs` fails when they differ
//! from a fresh build of the sources.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::json::ApiPath;

/// One built file: its name under `/app/`, media type and bytes.
struct Asset {
    name: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        mime: "text/html; charset=utf-8",
        bytes: include_bytes!("../app/index.html"),
    },
    Asset {
        name: "app.js",
        mime: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../app/app.js"),
    },
    Asset {
        name: "app.css",
        mime: "text/css; charset=utf-8",
        bytes: include_bytes!("../app/app.css"),
    },
];

/// `/app` (redirected to `/app/`), `/app/` (the page) and `/app/{file}`.
pub fn router() -> Router {
    Router::new()
        .route("/app", get(|| async { Redirect::permanent("/app/") }))
        .route("/app/", get(|| async { serve("index.html") }))
        .route("/app/{file}", get(file))
}

async fn file(ApiPath(name): ApiPath<String>) -> Response {
    serve(&name)
}

fn serve(name: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return ApiError::new(ErrorCode::NotFound, format!("no file {name} in /app"))
            .into_response();
    };
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    // Files change with the binary: revalidate rather than cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
