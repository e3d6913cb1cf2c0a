//! The figures of `tidings-bench direct`: each run's counts, rate and latency percentiles, and
//! the medians over the runs, as the JSON that `--report` writes.

use crate::hops::Hop;
use crate::summary::median;
use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency percentiles of one run, in milliseconds (the histogram holds microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// What one run counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub sent: u64,
    pub acked: u64,
    pub delivered: u64,
    pub duplicated: u64,
    pub errors: u64,
}

/// One run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub secs: f64,
    pub sent: u64,
    pub acked: u64,
    pub delivered: u64,
    /// Acknowledged by the server but never delivered to the receiver.
    pub lost: u64,
    pub duplicated: u64,
    pub errors: u64,
    pub msgs_per_sec: f64,
    pub latency: Latency,
    /// The server's latency histograms over this run (empty when `/metrics` was unreadable).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<Hop>,
}

impl Run {
    pub fn new(counts: Counts, secs: f64, latency: &Histogram<u64>, hops: Vec<Hop>) -> Self {
        Self {
            secs,
            sent: counts.sent,
            acked: counts.acked,
            delivered: counts.delivered,
            lost: counts.acked.saturating_sub(counts.delivered),
            duplicated: counts.duplicated,
            errors: counts.errors,
            msgs_per_sec: if secs > 0.0 {
                counts.delivered as f64 / secs
            } else {
                0.0
            },
            latency: Latency::of(latency),
            hops,
        }
    }
}

/// Medians over the runs, and the totals that must be zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub runs: usize,
    pub median_msgs_per_sec: f64,
    pub median_p50_ms: f64,
    pub median_p99_ms: f64,
    pub median_p999_ms: f64,
    pub median_max_ms: f64,
    pub lost: u64,
    pub duplicated: u64,
}

impl Summary {
    pub fn of(runs: &[Run]) -> Self {
        let m = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        Self {
            runs: runs.len(),
            median_msgs_per_sec: m(|r| r.msgs_per_sec),
            median_p50_ms: m(|r| r.latency.p50_ms),
            median_p99_ms: m(|r| r.latency.p99_ms),
            median_p999_ms: m(|r| r.latency.p999_ms),
            median_max_ms: m(|r| r.latency.max_ms),
            lost: runs.iter().map(|r| r.lost).sum(),
            duplicated: runs.iter().map(|r| r.duplicated).sum(),
        }
    }
}

/// The configuration a report was measured with.
#[derive(Debug, Clone, Serialize)]
pub struct Shape {
    pub pairs: usize,
    /// Offered messages per second; 0 is as fast as the window allows.
    pub rate: u64,
    pub duration: u64,
    pub window: usize,
    pub body_bytes: usize,
    pub prefill: u64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub bench: &'static str,
    #[serde(flatten)]
    pub shape: Shape,
    pub summary: Summary,
    pub runs: Vec<Run>,
}

impl Report {
    pub fn new(shape: Shape, runs: Vec<Run>) -> Self {
        Self {
            bench: "direct",
            shape,
            summary: Summary::of(&runs),
            runs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::histogram;

    /// 1,000 samples of 1..=1000 ms.
    fn uniform() -> Histogram<u64> {
        let mut h = histogram();
        for ms in 1..=1000u64 {
            h.record(ms * 1000).unwrap();
        }
        h
    }

    fn close(a: f64, b: f64) -> bool {
        // The histogram keeps 3 significant digits.
        (a - b).abs() <= b * 0.001 + 1e-9
    }

    #[test]
    fn percentiles_are_read_in_milliseconds_from_a_microsecond_histogram() {
        let l = Latency::of(&uniform());
        assert_eq!(l.count, 1000);
        assert!(close(l.p50_ms, 500.0), "{l:?}");
        assert!(close(l.p90_ms, 900.0), "{l:?}");
        assert!(close(l.p99_ms, 990.0), "{l:?}");
        assert!(close(l.p999_ms, 999.0), "{l:?}");
        assert!(close(l.max_ms, 1000.0), "{l:?}");
    }

    #[test]
    fn one_slow_sample_in_a_thousand_shows_in_the_max_and_not_in_p99() {
        let mut h = histogram();
        for _ in 0..999 {
            h.record(2_000).unwrap();
        }
        h.record(400_000).unwrap();
        let l = Latency::of(&h);
        assert!(close(l.p99_ms, 2.0), "{l:?}");
        assert!(close(l.max_ms, 400.0), "{l:?}");
    }

    #[test]
    fn a_run_counts_lost_messages_and_its_rate_from_deliveries() {
        let counts = Counts {
            sent: 110,
            acked: 100,
            delivered: 97,
            duplicated: 2,
            errors: 10,
        };
        let run = Run::new(counts, 10.0, &uniform(), Vec::new());
        assert_eq!(run.lost, 3);
        assert!(close(run.msgs_per_sec, 9.7));
        let more_delivered = Counts {
            delivered: 101,
            ..counts
        };
        assert_eq!(
            Run::new(more_delivered, 10.0, &uniform(), Vec::new()).lost,
            0
        );
        assert_eq!(
            Run::new(counts, 0.0, &uniform(), Vec::new()).msgs_per_sec,
            0.0
        );
    }

    #[test]
    fn the_summary_takes_medians_and_adds_up_losses_and_duplicates() {
        let run = |delivered: u64, dup: u64, slow_ms: u64| {
            let mut h = histogram();
            h.record(slow_ms * 1000).unwrap();
            let counts = Counts {
                sent: 100,
                acked: 100,
                delivered,
                duplicated: dup,
                errors: 0,
            };
            Run::new(counts, 1.0, &h, Vec::new())
        };
        let s = Summary::of(&[run(100, 0, 30), run(99, 1, 10), run(98, 0, 20)]);
        assert_eq!(s.runs, 3);
        assert!(close(s.median_msgs_per_sec, 99.0));
        assert!(close(s.median_max_ms, 20.0));
        assert!(close(s.median_p99_ms, 20.0));
        assert_eq!((s.lost, s.duplicated), (3, 1));
    }

    #[test]
    fn the_json_report_names_every_figure() {
        let shape = Shape {
            pairs: 50,
            rate: 0,
            duration: 60,
            window: 32,
            body_bytes: 64,
            prefill: 5_000_000,
        };
        let counts = Counts {
            sent: 10,
            acked: 10,
            delivered: 10,
            ..Counts::default()
        };
        let report = Report::new(shape, vec![Run::new(counts, 1.0, &uniform(), Vec::new())]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["bench"], "direct");
        assert_eq!(json["prefill"], 5_000_000);
        assert_eq!(json["body_bytes"], 64);
        for key in [
            "median_msgs_per_sec",
            "median_p50_ms",
            "median_p99_ms",
            "median_p999_ms",
            "median_max_ms",
            "lost",
            "duplicated",
        ] {
            assert!(json["summary"][key].is_number(), "summary.{key}");
        }
        for key in ["p50_ms", "p99_ms", "p999_ms", "max_ms"] {
            assert!(json["runs"][0]["latency"][key].is_number(), "latency.{key}");
        }
        assert_eq!(json["runs"][0]["lost"], 0);
        assert_eq!(json["runs"][0]["msgs_per_sec"], 10.0);
    }
}
