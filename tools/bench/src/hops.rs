//! The server's own latency histograms over one run: `/metrics` is scraped before and after
//! it, and the difference of each `*_seconds` histogram's buckets gives that hop's count and
//! quantiles over the run alone (a prefill and earlier runs left out).
//!
//! Quantiles are interpolated linearly inside the bucket that holds them, as Prometheus'
//! `histogram_quantile` does, so they are only as fine as the server's buckets (100 µs to 10 s,
//! `tidings_runtime::metrics`); the share over 10 ms and over 50 ms falls on bucket bounds and
//! is exact.

use serde::Serialize;
use std::collections::BTreeMap;

/// Cumulative bucket counts (upper bound, count) of each histogram series, by its name and
/// labels (without `le`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape(BTreeMap<String, Vec<(f64, u64)>>);

impl Scrape {
    /// Fetches `url`/metrics. A server without metrics gives an empty scrape.
    pub async fn fetch(url: &str) -> anyhow::Result<Self> {
        let text = reqwest::get(format!("{}/metrics", url.trim_end_matches('/')))
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(Self::parse(&text))
    }

    /// The `*_seconds_bucket` lines of Prometheus' text format.
    pub fn parse(text: &str) -> Self {
        let mut series: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
        for line in text.lines() {
            let Some((name, rest)) = line.split_once("_seconds_bucket{") else {
                continue;
            };
            let Some((labels, count)) = rest.rsplit_once("} ") else {
                continue;
            };
            let Ok(count) = count.trim().parse::<f64>() else {
                continue;
            };
            let mut bound = None;
            let mut others = Vec::new();
            for label in labels.split(',').filter(|l| !l.is_empty()) {
                match label.strip_prefix("le=") {
                    Some(le) => bound = parse_bound(le.trim_matches('"')),
                    None => others.push(label),
                }
            }
            let Some(bound) = bound else { continue };
            let key = if others.is_empty() {
                format!("{name}_seconds")
            } else {
                format!("{name}_seconds{{{}}}", others.join(","))
            };
            series.entry(key).or_default().push((bound, count as u64));
        }
        for buckets in series.values_mut() {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        Self(series)
    }

    /// What each series counted since `before`; series that counted nothing are left out.
    pub fn since(&self, before: &Scrape) -> Vec<Hop> {
        let mut hops = Vec::new();
        for (name, after) in &self.0 {
            let buckets: Vec<(f64, u64)> = match before.0.get(name) {
                Some(old) if old.len() == after.len() => after
                    .iter()
                    .zip(old)
                    .map(|(&(le, n), &(_, m))| (le, n.saturating_sub(m)))
                    .collect(),
                _ => after.clone(),
            };
            if let Some(hop) = Hop::of(name, &buckets) {
                hops.push(hop);
            }
        }
        hops
    }
}

fn parse_bound(le: &str) -> Option<f64> {
    if le == "+Inf" {
        Some(f64::INFINITY)
    } else {
        le.parse().ok()
    }
}

/// One histogram over one run, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop {
    pub name: String,
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Share of the observations over 10 ms and over 50 ms.
    pub over_10ms: f64,
    pub over_50ms: f64,
}

impl Hop {
    fn of(name: &str, buckets: &[(f64, u64)]) -> Option<Self> {
        let count = buckets.last()?.1;
        if count == 0 {
            return None;
        }
        let over = |bound: f64| {
            let within = buckets
                .iter()
                .find(|(le, _)| (*le - bound).abs() < 1e-9)
                .map_or(count, |&(_, n)| n);
            count.saturating_sub(within) as f64 / count as f64
        };
        Some(Self {
            name: name.to_owned(),
            count,
            p50_ms: quantile(buckets, 0.5) * 1000.0,
            p99_ms: quantile(buckets, 0.99) * 1000.0,
            p999_ms: quantile(buckets, 0.999) * 1000.0,
            over_10ms: over(0.01),
            over_50ms: over(0.05),
        })
    }
}

/// The `q` quantile of cumulative buckets, interpolated inside its bucket; in the open top
/// bucket, its lower bound.
fn quantile(buckets: &[(f64, u64)], q: f64) -> f64 {
    let total = buckets.last().map_or(0, |b| b.1) as f64;
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for &(le, n) in buckets {
        let n = n as f64;
        if n >= rank {
            if le.is_infinite() || n == below {
                return lower;
            }
            return lower + (le - lower) * (rank - below) / (n - below);
        }
        (lower, below) = (le, n);
    }
    lower
}

/// Prints the hops as a table under a run's line.
pub fn print(hops: &[Hop]) {
    println!(
        "      {:<52} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "server hop (this run)", "count", "p50ms", "p99ms", "p999ms", ">10ms", ">50ms"
    );
    for h in hops {
        println!(
            "      {:<52} {:>9} {:>8.2} {:>8.2} {:>8.2} {:>7.3}% {:>7.3}%",
            h.name,
            h.count,
            h.p50_ms,
            h.p99_ms,
            h.p999_ms,
            h.over_10ms * 100.0,
            h.over_50ms * 100.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
# TYPE tidings_command_seconds histogram
tidings_command_seconds_bucket{kind=\"send\",le=\"0.01\"} 90
tidings_command_seconds_bucket{kind=\"send\",le=\"0.05\"} 100
tidings_command_seconds_bucket{kind=\"send\",le=\"+Inf\"} 100
tidings_command_seconds_sum{kind=\"send\"} 1.5
tidings_store_commit_seconds_bucket{le=\"0.01\"} 5
tidings_store_commit_seconds_bucket{le=\"0.05\"} 5
tidings_store_commit_seconds_bucket{le=\"+Inf\"} 5
tidings_projector_batch_events_bucket{le=\"1\"} 3
";

    const AFTER: &str = "\
tidings_command_seconds_bucket{kind=\"send\",le=\"0.01\"} 890
tidings_command_seconds_bucket{kind=\"send\",le=\"0.05\"} 1090
tidings_command_seconds_bucket{kind=\"send\",le=\"+Inf\"} 1100
tidings_store_commit_seconds_bucket{le=\"0.01\"} 5
tidings_store_commit_seconds_bucket{le=\"0.05\"} 5
tidings_store_commit_seconds_bucket{le=\"+Inf\"} 5
";

    #[test]
    fn a_run_counts_only_what_its_histograms_gained() {
        let hops = Scrape::parse(AFTER).since(&Scrape::parse(BEFORE));
        assert_eq!(
            hops.len(),
            1,
            "the commit histogram gained nothing: {hops:?}"
        );
        let h = &hops[0];
        assert_eq!(h.name, "tidings_command_seconds{kind=\"send\"}");
        assert_eq!(h.count, 1000);
        assert!((h.over_10ms - 0.2).abs() < 1e-9, "{h:?}");
        assert!((h.over_50ms - 0.01).abs() < 1e-9, "{h:?}");
        // 500 of 800 in the first bucket, [0, 10 ms]: 6.25 ms.
        assert!((h.p50_ms - 6.25).abs() < 1e-9, "{h:?}");
        // Rank 990 ends the second bucket; rank 999 lies in the open top one: its lower bound.
        assert!((h.p99_ms - 50.0).abs() < 1e-9, "{h:?}");
        assert!((h.p999_ms - 50.0).abs() < 1e-9, "{h:?}");
    }

    #[test]
    fn lines_that_are_not_latency_buckets_are_ignored() {
        let scrape = Scrape::parse(BEFORE);
        assert_eq!(scrape.0.len(), 2);
        assert!(!scrape.0.keys().any(|k| k.contains("batch")));
    }
}
