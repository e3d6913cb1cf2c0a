//! The query-string extractor of every client route: a query that does not parse is refused
//! as `invalid_request` with the protocol's JSON body (axum's own `Query` answers plain text).

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tidings_api::error::{ApiError, ErrorCode};

/// A parsed query string.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(query)| ApiQuery(query))
            .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    #[derive(Debug, serde::Deserialize)]
    struct Page {
        since: u64,
    }

    async fn parse(uri: &str) -> Result<u64, ApiError> {
        let (mut parts, ()) = Request::get(uri).body(()).unwrap().into_parts();
        ApiQuery::<Page>::from_request_parts(&mut parts, &())
            .await
            .map(|ApiQuery(p)| p.since)
    }

    #[tokio::test]
    async fn a_query_that_does_not_parse_is_an_invalid_request() {
        assert_eq!(parse("/v1/groups?since=7").await.unwrap(), 7);
        for bad in ["/v1/groups?since=abc", "/v1/groups?since=-1", "/v1/groups"] {
            let error = parse(bad).await.unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRequest, "{bad}");
        }
    }
}
