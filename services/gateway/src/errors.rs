//! How failures of the gateway's own reads reach the caller; the HTTP and frame codes
//! themselves are the api's `ApiError`.

use tidings_api::error::ApiError;

/// A read-model failure, as the caller hears it (logged once, here: `unavailable` logs it).
pub(crate) fn store_error(e: tidings_store::StoreError) -> ApiError {
    ApiError::unavailable("reading the store", e)
}
