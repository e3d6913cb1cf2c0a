//! The ScyllaDB adapter of Tidings' read-model ports (`tidings_store::ports`), the CQL
//! migrations under `scylla/migrations/`, and their application. It depends on the store
//! crate's ports and rows and must not depend on any service. docs/scylla.md lists every query.

mod apply;
mod broadcast_reads;
pub mod buckets;
pub mod config;
mod digest;
pub mod error;
mod inbox_join;
pub mod migrate;
mod reads;
#[cfg(test)]
mod schema;
pub mod statements;
mod store;

pub use config::{ConsistencyLevel, ScyllaConfig};
pub use error::{ConnectError, MigrateError};
pub use migrate::migrate;
pub use store::ScyllaStore;

use tidings_store::ProjectionStore;
use tidings_store::digest::{LogicalRow, Table};
use tidings_store::plan::{Changes, Loaded, RowKeys};
use tidings_store::ports::StoreResult;

impl ProjectionStore for ScyllaStore {
    /// Rows, heads and the checkpoint are separate statements: see `apply`'s write order.
    const ATOMIC_APPLY: bool = false;

    async fn checkpoint(&self, projection: &str) -> StoreResult<u64> {
        let row: Option<(i64, Option<i64>)> = self
            .first(&self.inner.st.checkpoint_get, (projection,))
            .await?;
        row.map_or(Ok(0), |(seq, written_at)| {
            store::checkpoint(projection, seq, written_at)
        })
    }

    async fn load(&self, keys: &RowKeys<'_>) -> StoreResult<Loaded> {
        self.load_rows(keys).await
    }

    async fn commit(&self, projection: &str, changes: &Changes) -> StoreResult<()> {
        self.commit_changes(projection, changes).await
    }

    async fn scan(
        &self,
        table: Table,
        visit: &mut (dyn FnMut(LogicalRow) + Send),
    ) -> StoreResult<()> {
        self.scan_table(table, visit).await
    }
}
