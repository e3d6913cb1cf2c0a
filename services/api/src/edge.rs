//! What every listener answers besides its routes' own answers: an unknown path, a method a
//! route does not take, and any rejection that would leave as plain text (axum's extractors
//! used directly, its default 405) in the protocol's `{"code","message"}` shape.

use crate::error::{ApiError, ErrorCode};
use axum::Router;
use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use tidings_runtime::http::HttpConfig;

/// Longest rejection text carried over into an error's message.
const MAX_MESSAGE: usize = 1024;

/// Serves `router`, with the protocol's answers for unknown routes and plain-text rejections,
/// on the hardened accept loop, until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    config: HttpConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tidings_runtime::http::serve(listener, finish(router), config, shutdown).await
}

/// `router` with a JSON `404 not_found` for unknown paths and every non-JSON error answer
/// turned into `{"code","message"}`.
pub fn finish(router: Router) -> Router {
    router
        .fallback(not_found)
        .layer(middleware::map_response(json_errors))
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no route for {method} {}", uri.path()),
    )
}

/// The code a plain error status stands for. A wrong method keeps its `405` (and the `Allow`
/// header axum set) with `invalid_request`; every other answer takes its code's status.
fn code_for(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::CONFLICT => ErrorCode::Conflict,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        s if s.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::InvalidRequest,
    }
}

async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, MAX_MESSAGE).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).trim().to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("refused")
            .to_lowercase(),
    };
    let code = code_for(status);
    let error = ApiError::new(code, text).into_response();
    let (error_parts, error_body) = error.into_parts();
    parts.status = if status == StatusCode::METHOD_NOT_ALLOWED {
        status
    } else {
        error_parts.status
    };
    parts.headers.remove(CONTENT_LENGTH);
    for (name, value) in &error_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, Body::new(error_body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;

    async fn call(router: &Router, method: Method, uri: &str) -> (StatusCode, String, String) {
        use tower_service::Service;
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = router.clone().call(request).await.unwrap();
        let allow = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        (status, value["code"].as_str().unwrap().to_owned(), allow)
    }

    #[tokio::test]
    async fn unknown_routes_and_plain_rejections_answer_the_error_shape() {
        let router = finish(Router::new().route(
            "/v1/things/{id}",
            post(|axum::extract::Path(id): axum::extract::Path<u32>| async move { id.to_string() }),
        ));
        let (status, code, _) = call(&router, Method::GET, "/v1/nothing").await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "not_found")
        );
        let (status, code, allow) = call(&router, Method::GET, "/v1/things/1").await;
        assert_eq!(
            (status, code.as_str(), allow.as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, "invalid_request", "POST")
        );
        let (status, code, _) = call(&router, Method::POST, "/v1/things/x").await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
    }
}
