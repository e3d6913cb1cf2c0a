//! The conformance suite on the embedded fjall adapter, plus its restart behaviour.

use crate::conformance::{self, app, direct_message, user};
use tidings_store::{FjallStore, InboxStore, ProjectionStore, Write};

fn fresh() -> (tempfile::TempDir, FjallStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FjallStore::open(dir.path()).unwrap();
    (dir, store)
}

#[tokio::test]
async fn inbox_numbering_is_gapless_across_batches() {
    let (_dir, store) = fresh();
    conformance::inbox_numbering_is_gapless_across_batches(store).await;
}

#[tokio::test]
async fn message_entries_read_back_whole_whichever_batch_wrote_the_timeline() {
    let (_dir, store) = fresh();
    conformance::message_entries_read_back_whole_whichever_batch_wrote_the_timeline(store).await;
}

#[tokio::test]
async fn file_bodies_read_back_whole() {
    let (_dir, store) = fresh();
    conformance::file_bodies_read_back_whole(store).await;
}

/// fjall stores a message once (inbox rows refer to the timeline): until the timeline row is
/// written, a page of the inbox ends before the entry instead of showing half of it.
#[tokio::test]
async fn an_entry_whose_message_is_not_written_yet_ends_the_page() {
    let (_dir, store) = fresh();
    store
        .apply("p", 1, direct_message("alice", "bob", 1, 1))
        .await
        .unwrap();
    let second: Vec<Write> = direct_message("alice", "bob", 2, 2)
        .into_iter()
        .filter(|w| !matches!(w, Write::Timeline { .. }))
        .collect();
    store.apply("p", 2, second).await.unwrap();
    let page = store
        .inbox_after(&app(), &user("bob"), 0, 10)
        .await
        .unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
    assert_eq!(store.inbox_last_seq(&app(), &user("bob")).await.unwrap(), 2);
}

#[tokio::test]
async fn hidden_and_cleared_filter_only_that_users_reads() {
    let (_dir, store) = fresh();
    conformance::hidden_and_cleared_filter_only_that_users_reads(store).await;
}

#[tokio::test]
async fn removals_never_break_paging() {
    let (_dir, store) = fresh();
    conformance::removals_never_break_paging(store).await;
}

#[tokio::test]
async fn recalls_and_edits_rewrite_the_one_timeline_row() {
    let (_dir, store) = fresh();
    conformance::recalls_and_edits_rewrite_the_one_timeline_row(store).await;
}

#[tokio::test]
async fn checkpoint_moves_with_the_batch() {
    let (_dir, store) = fresh();
    conformance::checkpoint_moves_with_the_batch(store).await;
}

#[tokio::test]
async fn conversation_rows_track_unread() {
    let (_dir, store) = fresh();
    conformance::conversation_rows_track_unread(store).await;
}

#[tokio::test]
async fn group_rows_follow_the_timeline_until_a_leave() {
    let (_dir, store) = fresh();
    conformance::group_rows_follow_the_timeline_until_a_leave(store).await;
}

#[tokio::test]
async fn timeline_pages_newest_first() {
    let (_dir, store) = fresh();
    conformance::timeline_pages_newest_first(store).await;
}

#[tokio::test]
async fn history_pages_by_time_both_ways() {
    let (_dir, store) = fresh();
    conformance::history_pages_by_time_both_ways(store).await;
}

#[tokio::test]
async fn history_by_time_splits_skewed_times_and_holes_without_gap_or_overlap() {
    let (_dir, store) = fresh();
    conformance::history_by_time_splits_skewed_times_and_holes_without_gap_or_overlap(store).await;
}

#[tokio::test]
async fn users_and_devices() {
    let (_dir, store) = fresh();
    conformance::users_and_devices(store).await;
}

#[tokio::test]
async fn users_changed_follows_cursors() {
    let (_dir, store) = fresh();
    conformance::users_changed_follows_cursors(store).await;
}

#[tokio::test]
async fn relations_apply_patches() {
    let (_dir, store) = fresh();
    conformance::relations_apply_patches(store).await;
}

#[tokio::test]
async fn repeated_writes_change_nothing() {
    let (_dir, store) = fresh();
    conformance::repeated_writes_change_nothing(store).await;
}

#[tokio::test]
async fn groups_members_and_user_groups() {
    let (_dir, store) = fresh();
    conformance::groups_members_and_user_groups(store).await;
}

#[tokio::test]
async fn digest_reflects_state() {
    let (_a_dir, a) = fresh();
    let (_b_dir, b) = fresh();
    conformance::digest_reflects_state(a, b).await;
}

/// The embedded store hashes its inbox and timeline in key ranges on several threads: the
/// ranges, cut between users of every shape of id, sum to the digest of the whole tables.
#[tokio::test]
async fn digest_in_key_ranges_is_the_digest_of_the_whole_tables() {
    let (_dir, store) = fresh();
    let users: Vec<String> = (0..40)
        .map(|i| match i % 4 {
            0 => format!("u{i}"),
            1 => format!("user-{i:03}"),
            2 => format!("Z{i}"),
            _ => format!("{i}{}", "x".repeat(i)),
        })
        .collect();
    let mut writes = Vec::new();
    for (n, pair) in users.windows(2).enumerate() {
        let n = n as u64 + 1;
        writes.extend(direct_message(&pair[0], &pair[1], 1, n));
        writes.extend(direct_message(&pair[1], &pair[0], 2, n + 100));
    }
    store.apply("p", 1, writes).await.unwrap();
    assert_eq!(
        store.digest().await.unwrap(),
        tidings_store::digest::compute(&store).await.unwrap()
    );
}

#[tokio::test]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let digest = {
        let store = FjallStore::open(dir.path()).unwrap();
        store
            .apply("p", 4, direct_message("alice", "bob", 1, 4))
            .await
            .unwrap();
        store.digest().await.unwrap()
    };
    let store = FjallStore::open(dir.path()).unwrap();
    assert_eq!(store.digest().await.unwrap(), digest);
    assert_eq!(store.checkpoint("p").await.unwrap(), 4);
    assert_eq!(store.inbox_last_seq(&app(), &user("bob")).await.unwrap(), 1);
}

#[tokio::test]
async fn reactions_count_once_and_are_told_on_change() {
    let (_dir, store) = fresh();
    conformance::reactions_count_once_and_are_told_on_change(store).await;
}

#[tokio::test]
async fn pins_are_set_and_deleted() {
    let (_dir, store) = fresh();
    conformance::pins_are_set_and_deleted(store).await;
}

#[tokio::test]
async fn settings_rows_are_replaced_per_conversation() {
    let (_dir, store) = fresh();
    conformance::settings_rows_are_replaced_per_conversation(store).await;
}

#[tokio::test]
async fn device_rows_and_device_reads_are_replaced_per_device() {
    let (_dir, store) = fresh();
    conformance::device_rows_and_device_reads_are_replaced_per_device(store).await;
}

#[tokio::test]
async fn service_messages_keep_their_agent_and_rows_name_the_other_side() {
    let (_dir, store) = fresh();
    conformance::service_messages_keep_their_agent_and_rows_name_the_other_side(store).await;
}

#[tokio::test]
async fn push_rows_are_replaced_per_user() {
    let (_dir, store) = fresh();
    conformance::push_rows_are_replaced_per_user(store).await;
}

#[tokio::test]
async fn broadcasts_are_stored_once_and_seen_by_their_audience() {
    let (_dir, store) = fresh();
    conformance::broadcasts_are_stored_once_and_seen_by_their_audience(store).await;
}

/// A store written before heads were derived from the inbox (an `inbox_head` keyspace, inbox
/// rows without cursors) opens as the same state: each head's cursor moves into the user's
/// newest row, so a batch already applied is still skipped.
#[tokio::test]
async fn a_store_with_separate_heads_is_migrated_on_open() {
    use tidings_store::inbox_row;
    let dir = tempfile::tempdir().unwrap();
    let digest = {
        let store = FjallStore::open(dir.path()).unwrap();
        store
            .apply("p", 1, direct_message("alice", "bob", 1, 1))
            .await
            .unwrap();
        store
            .apply("p", 2, direct_message("alice", "bob", 2, 2))
            .await
            .unwrap();
        store.digest().await.unwrap()
    };
    {
        // Rewrite it as the earlier layout had it.
        let db = fjall::Database::builder(dir.path()).open().unwrap();
        let inbox = db
            .keyspace("inbox", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let heads = db
            .keyspace("inbox_head", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        let rows: Vec<_> = inbox.iter().map(|g| g.into_inner().unwrap()).collect();
        assert_eq!(rows.len(), 4);
        for (k, v) in rows {
            assert!(inbox_row::cursor_of(&v).unwrap() > 0);
            let legacy = inbox_row::encode_row(&inbox_row::decode(&v).unwrap());
            assert_eq!(inbox_row::cursor_of(&legacy).unwrap(), 0);
            inbox.insert(k, legacy).unwrap();
        }
        for u in ["alice", "bob"] {
            let mut head = 2u64.to_be_bytes().to_vec();
            head.extend_from_slice(&2u64.to_be_bytes());
            heads.insert(format!("demo\0{u}"), head).unwrap();
        }
        db.persist(fjall::PersistMode::SyncAll).unwrap();
    }
    let store = FjallStore::open(dir.path()).unwrap();
    assert_eq!(store.digest().await.unwrap(), digest);
    assert_eq!(store.inbox_last_seq(&app(), &user("bob")).await.unwrap(), 2);
    let again = store
        .apply("p", 2, direct_message("alice", "bob", 2, 2))
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    let next = store
        .apply("p", 3, direct_message("alice", "bob", 3, 3))
        .await
        .unwrap();
    assert_eq!(next.iter().map(|d| d.entry.seq).collect::<Vec<_>>(), [3, 3]);
    drop(store);
    let db = fjall::Database::builder(dir.path()).open().unwrap();
    assert!(!db.keyspace_exists("inbox_head"));
}
