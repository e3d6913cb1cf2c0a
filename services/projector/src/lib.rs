//! tidings-projector: folds the events stream into the read models (inboxes, conversations,
//! timelines, users) and pushes new inbox entries live. It depends on the store's ports, never
//! on the api or gateway.

pub mod annotation_fold;
pub mod broadcast_push;
pub mod directory;
pub mod entry_push;
pub mod fold;
pub mod group_fold;
pub mod health;
pub mod lease;
pub mod partition;
pub mod pool;
pub mod projection;
pub mod rosters;
pub mod runner;
pub mod service_fold;

pub use health::Status;
pub use partition::Partition;
pub use pool::{run, run_reporting};
pub use projection::Projection;
pub use runner::{PROJECTION, Projector, Step};

use serde::Deserialize;

/// The projector's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Most events applied in one atomic store write.
    pub max_batch: usize,
    /// Groups above this many members use read diffusion.
    pub large_group: usize,
    /// How many partitions share the work (fixed for a deployment; run 1 to this many
    /// instances). 1 runs one projector over the whole stream, without leases.
    pub partitions: u32,
    /// How long a partition's lease outlives its holder's last renewal, in seconds.
    pub lease_ttl_secs: u64,
    /// Rows per table the projector keeps between batches instead of reading them back from
    /// the store (twice this at most; 0 reads every row from the store).
    pub row_cache: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_batch: 512,
            large_group: fold::DEFAULT_LARGE_GROUP,
            partitions: 1,
            lease_ttl_secs: 10,
            row_cache: tidings_store::plan::cache::DEFAULT_CAPACITY,
        }
    }
}
