//! What can go wrong connecting to Scylla and migrating its schema. Messages leave the cause
//! to the error's source (shown by `{:#}`); driver errors are boxed, they are large. Port calls report `tidings_store::StoreError`.

use crate::config::ConfigError;
use scylla::errors::{ExecutionError, NewSessionError, PrepareError};
use tidings_store::StoreError;

/// Connecting and preparing the statements failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("bad scylla configuration")]
    Config(#[from] ConfigError),
    #[error("connecting to scylla at {uri}")]
    Session {
        uri: String,
        #[source]
        source: Box<NewSessionError>,
    },
    #[error("preparing statement {name} (has `tidings migrate` run on keyspace {keyspace}?)")]
    Prepare {
        name: &'static str,
        keyspace: String,
        #[source]
        source: Box<PrepareError>,
    },
}

/// Applying the CQL migrations failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("migration file {file}: {reason}")]
    Invalid { file: String, reason: String },
    #[error("migration {file}, statement {statement:?}")]
    Execute {
        file: String,
        statement: String,
        #[source]
        source: Box<ExecutionError>,
    },
    #[error("reading the applied migrations")]
    Applied(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Wraps a driver error as a port error.
pub(crate) fn db<E: std::error::Error + Send + Sync + 'static>(error: E) -> StoreError {
    StoreError::Database(Box::new(error))
}
