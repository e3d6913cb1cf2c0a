//! The store handle: one session, the prepared statements, and helpers to run them.

use crate::config::ScyllaConfig;
use crate::error::{ConnectError, db};
use crate::statements::Statements;
use futures_util::{StreamExt, TryStreamExt};
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::deserialize::row::DeserializeRow as DeserializeRowTrait;
use scylla::response::query_result::QueryRowsResult;
use scylla::serialize::row::SerializeRow;
use scylla::statement::bound::BoundStatement;
use scylla::statement::prepared::PreparedStatement;
use std::sync::Arc;
use tidings_store::StoreError;
use tidings_store::ports::StoreResult;

/// Statements in flight at once while applying a batch or reading a digest.
pub(crate) const CONCURRENCY: usize = 64;

/// The Scylla adapter of every read-model port. Cloning shares the session.
#[derive(Clone)]
pub struct ScyllaStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) session: Session,
    pub(crate) st: Statements,
    pub(crate) keyspace: String,
}

/// A session on `config`'s contact points: token-aware default load balancing and `config`'s
/// consistency for every statement. No client-side timestamp generator: every read-model
/// write names its timestamp, a stream sequence (`USING TIMESTAMP ?`), so no write depends on
/// a clock; the only unstamped write, `tidings migrate` recording a file in `schema_version`,
/// takes the coordinator's time.
pub(crate) async fn session(config: &ScyllaConfig) -> Result<Session, ConnectError> {
    let profile = ExecutionProfile::builder()
        .consistency(config.consistency.into())
        .build();
    SessionBuilder::new()
        .known_nodes(config.known_nodes()?)
        .default_execution_profile_handle(profile.into_handle())
        .build()
        .await
        .map_err(|source| ConnectError::Session {
            uri: config.uri.clone(),
            source: Box::new(source),
        })
}

impl ScyllaStore {
    /// Connects and prepares every statement. The keyspace must have been migrated
    /// (`tidings migrate`).
    pub async fn connect(config: &ScyllaConfig) -> Result<Self, ConnectError> {
        config.validate()?;
        let session = session(config).await?;
        let st = Statements::prepare(&session, &config.keyspace).await?;
        tracing::info!(uri = %config.uri, keyspace = %config.keyspace, consistency = %config.consistency, "connected to scylla");
        Ok(Self {
            inner: Arc::new(Inner {
                session,
                st,
                keyspace: config.keyspace.clone(),
            }),
        })
    }

    /// The keyspace this store reads and writes.
    pub fn keyspace(&self) -> &str {
        &self.inner.keyspace
    }

    /// The session, for administration (tests drop their keyspace through it).
    pub fn session(&self) -> &Session {
        &self.inner.session
    }

    /// One unpaged execution's rows.
    async fn unpaged(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow + Send + Sync,
    ) -> StoreResult<QueryRowsResult> {
        self.inner
            .session
            .execute_unpaged(statement, values)
            .await
            .map_err(db)?
            .into_rows_result()
            .map_err(db)
    }

    /// The first row of a result, `None` when there is none.
    pub(crate) async fn first<R>(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow + Send + Sync,
    ) -> StoreResult<Option<R>>
    where
        R: for<'f, 'm> DeserializeRowTrait<'f, 'm>,
    {
        let result = self.unpaged(statement, values).await?;
        result.maybe_first_row::<R>().map_err(db)
    }

    /// Every row of a result bounded by `LIMIT`, in one response.
    pub(crate) async fn limited<R>(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow + Send + Sync,
    ) -> StoreResult<Vec<R>>
    where
        R: for<'f, 'm> DeserializeRowTrait<'f, 'm>,
    {
        let result = self.unpaged(statement, values).await?;
        result
            .rows::<R>()
            .map_err(db)?
            .map(|row| row.map_err(db))
            .collect()
    }

    /// Every row of a result, fetched page by page.
    pub(crate) async fn all<R>(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow + Send + Sync,
    ) -> StoreResult<Vec<R>>
    where
        R: for<'f, 'm> DeserializeRowTrait<'f, 'm> + Send + 'static,
    {
        self.inner
            .session
            .execute_iter(statement.clone(), values)
            .await
            .map_err(db)?
            .rows_stream::<R>()
            .map_err(db)?
            .map_err(db)
            .try_collect()
            .await
    }

    /// Runs writes concurrently; all must succeed.
    pub(crate) async fn write_all(&self, writes: Vec<BoundStatement>) -> StoreResult<()> {
        let session = &self.inner.session;
        futures_util::stream::iter(writes)
            .map(|bound| async move { session.execute_bound_unpaged(&bound).await })
            .buffer_unordered(CONCURRENCY)
            .map_err(db)
            .try_for_each(|_| async { Ok(()) })
            .await
    }
}

/// Binds values to a prepared statement (cloning a prepared statement is cheap).
pub(crate) fn bind(
    statement: &PreparedStatement,
    values: &impl SerializeRow,
) -> StoreResult<BoundStatement> {
    statement.clone().bind(values).map_err(db)
}

/// A sequence number as a CQL bigint. Stream and inbox sequences stay far below 2^63.
pub(crate) fn big(n: u64) -> StoreResult<i64> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("sequence {n} exceeds a bigint")))
}

/// A CQL bigint read back as a sequence number.
pub(crate) fn seq(n: i64) -> StoreResult<u64> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative sequence {n}")))
}

/// Write timestamps at or above this (2^50 microseconds since the epoch, in 2005) come from a
/// clock, not from a stream sequence, which stays far below it (10^15 events).
pub(crate) const CLOCK_STAMPED: i64 = 1 << 50;

/// A stored checkpoint, refused when its write time is a clock's: the keyspace was then
/// written by a version that stamped projector rows with the writing host's clock, and every
/// stream-stamped write to those rows would lose to them (inbox heads would stop advancing and
/// inbox seqs be reused). Such a keyspace must be rebuilt (docs/scylla.md).
pub(crate) fn checkpoint(
    projection: &str,
    seq_stored: i64,
    written_at: Option<i64>,
) -> StoreResult<u64> {
    if let Some(at) = written_at.filter(|at| *at >= CLOCK_STAMPED) {
        return Err(StoreError::Corrupt(format!(
            "checkpoint {projection} was written at clock time {at} (microseconds), by a version \
             that stamped projector rows with host clocks; stream-stamped writes would lose to \
             its rows: rebuild the keyspace (docs/scylla.md, Timestamps)"
        )));
    }
    seq(seq_stored)
}

/// A CQL `LIMIT`: the driver binds it as an int.
pub(crate) fn limit(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Encodes a row as fjall does, so both adapters store the same bytes.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("read-model rows always encode")
}

/// Decodes a stored row.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    Ok(rmp_serde::from_slice(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_convert_at_the_bigint_boundary() {
        assert_eq!(big(0).unwrap(), 0);
        assert_eq!(big(i64::MAX as u64).unwrap(), i64::MAX);
        assert!(big(i64::MAX as u64 + 1).is_err());
        assert_eq!(seq(7).unwrap(), 7);
        assert!(seq(-1).is_err());
        assert_eq!(limit(10), 10);
        assert_eq!(limit(usize::MAX), i32::MAX);
    }

    #[test]
    fn a_clock_stamped_checkpoint_is_refused() {
        // Stream-stamped: the checkpoint is its own timestamp.
        assert_eq!(checkpoint("inbox", 42, Some(42)).unwrap(), 42);
        assert_eq!(checkpoint("inbox", 42, None).unwrap(), 42);
        assert_eq!(checkpoint("inbox", 7, Some(CLOCK_STAMPED - 1)).unwrap(), 7);
        // Written by a clock-stamping version (2025 in microseconds).
        let error = checkpoint("inbox.p0of4", 42, Some(1_750_000_000_000_000)).unwrap_err();
        assert!(matches!(error, StoreError::Corrupt(_)));
        assert!(
            error.to_string().contains("rebuild the keyspace"),
            "{error}"
        );
        const { assert!(CLOCK_STAMPED > 1_000_000_000_000_000 && CLOCK_STAMPED < 1_200_000_000_000_000) };
    }
}
