//! Storage failures.

/// A read or write that the store could not carry out.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("embedded store: {0}")]
    Fjall(#[from] fjall::Error),
    #[error("stored row could not be decoded: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    #[error("store is corrupt: {0}")]
    Corrupt(String),
}
