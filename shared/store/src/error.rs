//! Storage failures.

/// A read or write that the store could not carry out.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("embedded store: {0}")]
    Fjall(#[from] fjall::Error),
    #[error("stored row could not be decoded: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    /// A database adapter failed: connecting, preparing, executing, or reading a result.
    #[error("database: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("store is corrupt: {0}")]
    Corrupt(String),
}
