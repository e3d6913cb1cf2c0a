//! History pages by time: the one place that turns a time range, an order, a cursor and a
//! limit into timeline reads, the same for every adapter (`ConversationStore::history`).
//!
//! A message's `ts` is a search key, not a filter. The range `[since, until)` is the run of
//! `conv_seq` from the first message found at or after `since` up to (not including) the first
//! found at or after `until`; every message in that run is returned. The conv aggregate keeps
//! `ts` non-decreasing in `conv_seq` (`tidings_domain::conv`), and then the run is exactly the
//! messages whose `ts` lies in the range. Messages recorded before that rule may be out of
//! order by clock skew: one near a boundary may then fall in the neighbouring range, but
//! adjacent ranges (`until` of one = `since` of the next) still split the timeline with
//! nothing skipped or repeated, because both use the same search.

use crate::model::TimelineMessage;
use serde::{Deserialize, Serialize};

/// Which end a page starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryOrder {
    /// Newest first; the cursor is `before` (a `conv_seq`, exclusive).
    #[default]
    Newest,
    /// Oldest first; the cursor is `after` (a `conv_seq`, exclusive).
    Oldest,
}

/// One page request of a conversation's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Messages at or after this time (milliseconds), from the first when `None`.
    pub since: Option<i64>,
    /// Messages before this time (milliseconds), up to the newest when `None`.
    pub until: Option<i64>,
    pub order: HistoryOrder,
    /// Where the previous page ended: `before` when newest first, `after` when oldest first.
    pub cursor: Option<u64>,
    /// At most this many messages.
    pub limit: usize,
}

/// A page of history and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    pub messages: Vec<TimelineMessage>,
    /// The cursor of the next page (`before` or `after`, as the order says), `None` when the
    /// range has no more messages.
    pub next: Option<u64>,
}

/// The `conv_seq` run a time range covers: `from..to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    /// The first `conv_seq` of the range.
    pub from: u64,
    /// The first `conv_seq` past the range (`u64::MAX`: open).
    pub to: u64,
}

/// Finds the first position whose key is at least `target` among positions `1..=newest`, by
/// binary lifting: it tries to step over `2^k` positions for k from 63 down, so the positions
/// it probes depend on the keys alone, never on `newest` (a probe past `newest` counts as a
/// key of +infinity and reads nothing). Keys that do not decrease make it the exact answer;
/// and since a newly recorded message never has a smaller `ts` than any before it, the
/// answer for a `target` already reached stays the same as the conversation grows, even
/// over keys out of order. `key(p)` is the key at `p` (`None`: no key there, treated as
/// +infinity).
///
/// `levels` steps are decided per round: a round reads, concurrently, every position the
/// next `levels` steps could probe (up to `2^levels - 1`), then takes the steps. The answer
/// is the same for every `levels`; 1 reads the fewest keys (at most `64 -
/// newest.leading_zeros()`: 20 for a million), more trade reads for fewer round trips (3: 7
/// rounds of at most 7 reads for a million).
pub async fn first_at_least<E, F, Fut>(
    newest: u64,
    target: i64,
    levels: u32,
    key: F,
) -> Result<u64, E>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Result<Option<i64>, E>>,
{
    let levels = levels.clamp(1, 8);
    // `below`: the highest position found so far whose key is less than `target` (0: none).
    let mut below = 0u64;
    let mut bit = 64u32;
    while bit > 0 {
        let depth = levels.min(bit);
        // Every position the next `depth` steps may probe: below | (a choice for each of
        // the first j of them) | the j-th step's bit. `below` has only bits above `bit - 1`
        // set, so these neither overflow nor repeat.
        let mut probes = Vec::new();
        for j in 0..depth {
            let step = 1u64 << (bit - 1 - j);
            for choice in 0..(1u64 << j) {
                // The choices fill the j bits above `step` (none for the first step).
                let chosen = if j == 0 { 0 } else { choice << (bit - j) };
                let probe = below | chosen | step;
                if probe <= newest {
                    probes.push(probe);
                }
            }
        }
        let keys = futures_util::future::try_join_all(probes.iter().map(|&p| key(p))).await?;
        let less = |p: u64| {
            probes
                .iter()
                .position(|&q| q == p)
                .and_then(|i| keys[i])
                .is_some_and(|ts| ts < target)
        };
        for j in 0..depth {
            let probe = below | (1u64 << (bit - 1 - j));
            if less(probe) {
                below = probe;
            }
        }
        bit -= depth;
    }
    Ok(below + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// The answer and the reads of a search of `levels` per round.
    fn search_in(keys: &[i64], target: i64, levels: u32) -> (u64, usize) {
        let reads = Cell::new(0);
        let key = |p: u64| {
            reads.set(reads.get() + 1);
            let key = keys.get(p as usize - 1).copied();
            async move { Ok(key) }
        };
        let found = block_on(first_at_least::<(), _, _>(
            keys.len() as u64,
            target,
            levels,
            key,
        ))
        .unwrap();
        (found, reads.get())
    }

    /// The answer and the reads of a search one level per round, checking that more levels
    /// per round find the same.
    fn search(keys: &[i64], target: i64) -> (u64, usize) {
        let (found, reads) = search_in(keys, target, 1);
        for levels in 2..=4 {
            assert_eq!(
                search_in(keys, target, levels).0,
                found,
                "{levels} levels per round, target {target}"
            );
        }
        (found, reads)
    }

    /// The search never awaits anything pending, so one poll finishes it.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => panic!("the search awaited something pending"),
        }
    }

    #[test]
    fn finds_the_first_key_at_least_the_target() {
        let keys = [10, 20, 20, 20, 30, 40];
        for (target, expected) in [
            (i64::MIN, 1),
            (10, 1),
            (11, 2),
            (20, 2),
            (21, 5),
            (40, 6),
            (41, 7),
        ] {
            assert_eq!(search(&keys, target).0, expected, "target {target}");
        }
        assert_eq!(search(&[], 5).0, 1, "an empty timeline");
    }

    #[test]
    fn a_million_keys_take_at_most_twenty_reads() {
        let keys: Vec<i64> = (0..1_000_000).collect();
        for target in [0, 1, 499_999, 999_999, 1_000_000] {
            let (found, reads) = search(&keys, target);
            assert_eq!(found, target as u64 + 1);
            assert!(reads <= 20, "log2 of a million, rounded up: {reads}");
            let (again, reads) = search_in(&keys, target, 3);
            assert_eq!(again, found);
            assert!(
                reads <= 7 * 7,
                "seven rounds of at most seven reads: {reads}"
            );
        }
    }

    #[test]
    fn an_answer_stays_as_the_timeline_grows_even_over_keys_out_of_order() {
        // Skewed keys (recorded before ts was kept in order), then keys that never go below
        // the largest before them.
        let mut keys = vec![5, 3, 9, 7, 8, 12, 11, 15];
        let targets = [4, 8, 10, 12, 13];
        let first: Vec<u64> = targets.iter().map(|&t| search(&keys, t).0).collect();
        for _ in 0..200 {
            let newest = *keys.iter().max().unwrap();
            keys.push(newest + (keys.len() as i64 % 3));
            for (&t, &was) in targets.iter().zip(&first) {
                assert_eq!(search(&keys, t).0, was, "target {t} at {} keys", keys.len());
            }
        }
    }

    #[test]
    fn adjacent_ranges_split_keys_out_of_order_without_gap_or_overlap() {
        let keys = [5, 3, 9, 7, 8, 12, 11, 15, 15, 20];
        let bounds = [i64::MIN, 4, 8, 9, 12, 16, i64::MAX];
        let cuts: Vec<u64> = bounds.iter().map(|&b| search(&keys, b).0).collect();
        assert!(cuts.windows(2).all(|w| w[0] <= w[1]), "{cuts:?}");
        assert_eq!((cuts[0], *cuts.last().unwrap()), (1, keys.len() as u64 + 1));
    }
}
