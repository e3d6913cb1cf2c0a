//! The storage conformance suite on ScyllaDB, every check of it, each on a keyspace of its own
//! (`tidings_test_<random>`, migrated, then dropped). It needs a ScyllaDB node: set
//! `SCYLLA_URI` (host:port list) and run `scripts/scylla-conformance`. It is built only with
//! the `conformance` feature, so the default test run does not count it, and without
//! `SCYLLA_URI` every test fails.
//! `TIDINGS_SCYLLA_REPLICATION` and `TIDINGS_SCYLLA_CONSISTENCY` override the test keyspace's
//! replication (default: one replica) and the consistency (default LOCAL_QUORUM).

#[path = "../../../store/tests/it/conformance.rs"]
mod conformance;

use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use tidings_store_scylla::{ScyllaConfig, ScyllaStore};

/// Settings for a fresh test keyspace on the node `SCYLLA_URI` names.
fn test_config() -> ScyllaConfig {
    let uri = std::env::var("SCYLLA_URI")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .expect("SCYLLA_URI is not set: the Scylla conformance suite needs a ScyllaDB node");
    let mut config = ScyllaConfig {
        uri,
        keyspace: format!("tidings_test_{:016x}", rand::random::<u64>()),
        replication: "{'class': 'NetworkTopologyStrategy', 'replication_factor': 1}".into(),
        ..ScyllaConfig::default()
    };
    if let Ok(replication) = std::env::var("TIDINGS_SCYLLA_REPLICATION") {
        config.replication = replication;
    }
    if let Ok(consistency) = std::env::var("TIDINGS_SCYLLA_CONSISTENCY") {
        config.consistency = consistency.parse().expect("TIDINGS_SCYLLA_CONSISTENCY");
    }
    config
}

/// A migrated, empty keyspace and a store on it.
async fn fresh(config: &ScyllaConfig) -> ScyllaStore {
    let report = tidings_store_scylla::migrate(config)
        .await
        .expect("migrating the test keyspace");
    assert!(report.already.is_empty(), "the test keyspace is new");
    ScyllaStore::connect(config)
        .await
        .expect("connecting to the test keyspace")
}

/// Runs `check`, then drops the stores' keyspaces whether it passed or panicked.
async fn run_then_drop(stores: &[&ScyllaStore], check: impl Future<Output = ()>) {
    let outcome = AssertUnwindSafe(check).catch_unwind().await;
    for store in stores {
        let drop = format!("DROP KEYSPACE IF EXISTS {}", store.keyspace());
        if let Err(error) = store.session().query_unpaged(drop, ()).await {
            eprintln!("could not drop test keyspace {}: {error}", store.keyspace());
        }
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

macro_rules! on_one_store {
    ($($check:ident),* $(,)?) => {
        /// The checks that take one store, each run below as a test of the same name.
        const ON_ONE_STORE: &[&str] = &[$(stringify!($check)),*];
        $(
            #[tokio::test]
            async fn $check() {
                let config = test_config();
                let store = fresh(&config).await;
                run_then_drop(&[&store], conformance::$check(store.clone())).await;
            }
        )*
    };
}

on_one_store!(
    inbox_numbering_is_gapless_across_batches,
    message_entries_read_back_whole_whichever_batch_wrote_the_timeline,
    file_bodies_read_back_whole,
    recalls_and_edits_rewrite_the_one_timeline_row,
    checkpoint_moves_with_the_batch,
    conversation_rows_track_unread,
    group_rows_follow_the_timeline_until_a_leave,
    timeline_pages_newest_first,
    history_pages_by_time_both_ways,
    history_by_time_splits_skewed_times_and_holes_without_gap_or_overlap,
    users_and_devices,
    users_changed_follows_cursors,
    relations_apply_patches,
    repeated_writes_change_nothing,
    groups_members_and_user_groups,
    hidden_and_cleared_filter_only_that_users_reads,
    removals_never_break_paging,
    reactions_count_once_and_are_told_on_change,
    pins_are_set_and_deleted,
    settings_rows_are_replaced_per_conversation,
    device_rows_and_device_reads_are_replaced_per_device,
    service_messages_keep_their_agent_and_rows_name_the_other_side,
    push_rows_are_replaced_per_user,
    broadcasts_are_stored_once_and_seen_by_their_audience,
);

#[tokio::test]
async fn digest_reflects_state() {
    let config = test_config();
    let a = fresh(&config).await;
    let b = fresh(&ScyllaConfig {
        keyspace: format!("{}_b", config.keyspace),
        ..config
    })
    .await;
    run_then_drop(
        &[&a, &b],
        conformance::digest_reflects_state(a.clone(), b.clone()),
    )
    .await;
}

/// `tidings migrate` semantics: a second run applies nothing and the schema stays usable.
#[tokio::test]
async fn migrations_apply_once() {
    let config = test_config();
    let store = fresh(&config).await;
    run_then_drop(&[&store], async {
        let again = tidings_store_scylla::migrate(&config).await.unwrap();
        assert!(again.applied.is_empty());
        let files: Vec<&str> = tidings_store_scylla::migrate::migrations()
            .unwrap()
            .iter()
            .map(|m| m.file)
            .collect();
        assert_eq!(again.already, files);
        conformance::checkpoint_moves_with_the_batch(store.clone()).await;
    })
    .await;
}

/// A check added to the shared suite must be added here too, or this fails.
#[test]
fn every_conformance_check_runs_here() {
    let suite = include_str!("../../../store/tests/it/conformance.rs");
    let mut in_suite: Vec<&str> = suite
        .split("pub async fn ")
        .skip(1)
        .map(|rest| rest.split(['<', '(']).next().unwrap().trim())
        .collect();
    in_suite.sort_unstable();
    let mut here: Vec<&str> = ON_ONE_STORE.to_vec();
    here.push("digest_reflects_state");
    here.sort_unstable();
    assert_eq!(in_suite, here);
}
