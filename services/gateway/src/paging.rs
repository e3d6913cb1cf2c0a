//! Page sizes of the inbox and list reads, shared by the REST routes and the WebSocket `sync`.

use tidings_api::error::{ApiError, ErrorCode};

/// Largest page a read (a `sync`, a catch-up step, a REST list) returns.
pub const MAX_PAGE: usize = 500;

/// A page size: `default` when absent, else 1 to `MAX_PAGE`.
pub(crate) fn check_limit(limit: Option<usize>, default: usize) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(default);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("limit must be 1-{MAX_PAGE}"),
        ));
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_stay_within_one_page() {
        assert_eq!(check_limit(None, 100).unwrap(), 100);
        assert_eq!(check_limit(Some(1), 100).unwrap(), 1);
        assert_eq!(check_limit(Some(MAX_PAGE), 100).unwrap(), MAX_PAGE);
        for bad in [0, MAX_PAGE + 1] {
            let error = check_limit(Some(bad), 100).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidRequest, "limit {bad}");
        }
    }
}
