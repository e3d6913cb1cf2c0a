//! `--timeline`: the run's latency second by second (by send time), so a tail can be laid
//! beside the server's own log of what it was doing then: per second, the messages sent in it,
//! the slowest, and how many took longer than the half-rate targets (15 ms, 50 ms).

use std::time::SystemTime;

/// The half-rate targets of issue 18, in microseconds.
const OVER_US: [u64; 2] = [15_000, 50_000];

#[derive(Debug, Clone, Copy, Default)]
struct Second {
    count: u64,
    max_us: u64,
    over: [u64; 2],
}

/// Per-second latency counts of one receiver, or of all of them merged.
#[derive(Debug, Default)]
pub struct Timeline {
    seconds: Vec<Second>,
}

impl Timeline {
    /// Counts one message sent `sent_us` after the run began that took `latency_us`.
    pub fn record(&mut self, sent_us: u64, latency_us: u64) {
        let at = (sent_us / 1_000_000) as usize;
        if self.seconds.len() <= at {
            self.seconds.resize(at + 1, Second::default());
        }
        let s = &mut self.seconds[at];
        s.count += 1;
        s.max_us = s.max_us.max(latency_us);
        for (n, bound) in s.over.iter_mut().zip(OVER_US) {
            *n += u64::from(latency_us > bound);
        }
    }

    pub fn merge(&mut self, other: &Timeline) {
        if self.seconds.len() < other.seconds.len() {
            self.seconds.resize(other.seconds.len(), Second::default());
        }
        for (s, o) in self.seconds.iter_mut().zip(&other.seconds) {
            s.count += o.count;
            s.max_us = s.max_us.max(o.max_us);
            s.over[0] += o.over[0];
            s.over[1] += o.over[1];
        }
    }

    /// One line per second whose slowest message took longer than 15 ms, stamped with the
    /// wall-clock time (UTC) of the second's start so it lines up with server logs.
    pub fn print(&self, began: SystemTime) {
        println!("timeline: seconds with a message over 15 ms (by send time)");
        println!("  second  utc            sent   max_ms  >15ms  >50ms");
        for (i, s) in self.seconds.iter().enumerate() {
            if s.over[0] == 0 {
                continue;
            }
            let at = chrono::DateTime::<chrono::Utc>::from(
                began + std::time::Duration::from_secs(i as u64),
            );
            println!(
                "  {i:>6}  {}  {:>6}  {:>7.1}  {:>5}  {:>5}",
                at.format("%H:%M:%S%.3f"),
                s.count,
                s.max_us as f64 / 1000.0,
                s.over[0],
                s.over[1]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Timeline;

    #[test]
    fn seconds_count_by_send_time_and_merge() {
        let mut a = Timeline::default();
        a.record(100, 2_000);
        a.record(1_500_000, 60_000);
        let mut b = Timeline::default();
        b.record(1_900_000, 20_000);
        b.record(2_100_000, 1_000);
        a.merge(&b);
        let s = &a.seconds;
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].count, s[0].max_us, s[0].over), (1, 2_000, [0, 0]));
        assert_eq!((s[1].count, s[1].max_us, s[1].over), (2, 60_000, [2, 1]));
        assert_eq!((s[2].count, s[2].over), (1, [0, 0]));
    }
}
