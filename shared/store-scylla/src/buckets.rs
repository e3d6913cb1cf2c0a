//! Partition buckets: growing sequences are split into fixed ranges so that no partition grows
//! without bound (one partition per 1,000 inbox entries of a user, per 1,000 messages of a
//! conversation, per 100,000 stream sequences of an app's users change feed).

/// Inbox entries per `inbox` partition.
pub const INBOX: u64 = 1_000;
/// Messages per `timeline` partition.
pub const TIMELINE: u64 = 1_000;
/// Stream sequences per `users_by_cursor` partition.
pub const USERS_BY_CURSOR: u64 = 100_000;
/// Broadcasts per `broadcasts` partition.
pub const BROADCASTS: u64 = 1_000;

/// The bucket of `seq` when each bucket spans `size` sequence numbers.
pub fn of(seq: u64, size: u64) -> u64 {
    seq / size
}

/// The buckets an inbox read of entries `after + 1 ..= last` touches, in order. Inbox `seq`
/// is gapless, so every bucket in the range holds entries.
pub fn inbox_range(after: u64, last: u64) -> std::ops::Range<u64> {
    if after >= last {
        return 0..0;
    }
    of(after + 1, INBOX)..of(last, INBOX) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_split_at_exact_multiples() {
        assert_eq!(of(0, INBOX), 0);
        assert_eq!(of(999, INBOX), 0);
        assert_eq!(of(1_000, INBOX), 1);
        assert_eq!(of(1_999, TIMELINE), 1);
        assert_eq!(of(99_999, USERS_BY_CURSOR), 0);
        assert_eq!(of(100_000, USERS_BY_CURSOR), 1);
        assert_eq!(of(u64::MAX, INBOX), u64::MAX / 1_000);
    }

    #[test]
    fn inbox_reads_touch_only_the_buckets_they_need() {
        assert_eq!(inbox_range(0, 3), 0..1);
        assert!(inbox_range(3, 3).is_empty());
        assert!(inbox_range(5, 3).is_empty());
        assert_eq!(inbox_range(998, 1_000), 0..2);
        assert_eq!(inbox_range(999, 1_000), 1..2);
        assert_eq!(inbox_range(0, 2_500), 0..3);
        // Every seq of the read falls in the range, and both ends are used.
        for (after, last) in [(0, 1), (0, 999), (999, 1_000), (1_234, 5_678)] {
            let range = inbox_range(after, last);
            assert_eq!(range.start, of(after + 1, INBOX));
            assert_eq!(range.end - 1, of(last, INBOX));
            assert!((after + 1..=last).all(|s| range.contains(&of(s, INBOX))));
        }
    }
}
