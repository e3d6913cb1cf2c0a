//! `tidings migrate`: applies the pending CQL migrations (`scylla/migrations/`, embedded in
//! the binary) to the configured ScyllaDB keyspace, in version order, recording each in
//! `schema_version`. Running it again applies nothing.

use anyhow::Context;
use tidings_store_scylla::ScyllaConfig;

/// Applies the pending migrations and prints one line per file.
pub async fn run(config: &ScyllaConfig) -> anyhow::Result<()> {
    let report = tidings_store_scylla::migrate(config)
        .await
        .with_context(|| format!("migrating keyspace {} at {}", config.keyspace, config.uri))?;
    for file in &report.already {
        println!("already applied {file}");
    }
    for file in &report.applied {
        println!("applied {file}");
    }
    println!(
        "tidings migrate done keyspace={} applied={} already={}",
        config.keyspace,
        report.applied.len(),
        report.already.len()
    );
    Ok(())
}
