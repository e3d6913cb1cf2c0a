//! tidings-projector: folds the events stream into the read models (inboxes, conversations,
//! timelines, users) and pushes new inbox entries live. It depends on the store's ports, never
//! on the api or gateway.

pub mod directory;
pub mod fold;
pub mod group_fold;
pub mod runner;

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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_batch: 512,
            large_group: fold::DEFAULT_LARGE_GROUP,
        }
    }
}
