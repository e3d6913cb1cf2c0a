//! Commit latency of fjall batches shaped like the projector's (a timeline row, two inbox
//! references, two conversation rows, the checkpoint; with `HEADS=1`, also the two inbox heads
//! the store wrote before its heads were derived from the inbox) while memtables flush:
//! how docs/design/wip-perf.md tested a patch to fjall's flush (issue 18). Small memtables
//! make the flush worker run every second or so, so its journal fsync (under fjall's journal
//! mutex) meets many commits.
//!
//!     cargo run -p tidings-store --example commit_latency -- DIR SECONDS RATE MEMTABLE_MIB
//!
//! DIR must be on the disk under test (not a tmpfs); RATE is batches per second (0: as fast as
//! possible). Prints the latency percentiles, the commits over 20 ms and 100 ms, and the slow
//! ones by what fjall was doing when they started: a write halt (a keyspace with 4 sealed
//! memtables, where fjall sleeps the writer in steps of 100 ms), a flush under way (its journal
//! sync held the journal mutex before the patch), or neither (the writer was descheduled).

use fjall::{Database, KeyspaceCreateOptions};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("DIR")?;
    let seconds: u64 = args.next().ok_or("SECONDS")?.parse()?;
    let rate: u64 = args.next().ok_or("RATE")?.parse()?;
    let memtable_mib: u64 = args.next().ok_or("MEMTABLE_MIB")?.parse()?;
    let heads = std::env::var("HEADS").is_ok_and(|v| v == "1");
    let db = Database::builder(&dir).open()?;
    let options = || KeyspaceCreateOptions::default().max_memtable_size(memtable_mib * 1024 * 1024);
    let names = [
        "timeline",
        "inbox",
        "inbox_head",
        "conversations",
        "checkpoints",
    ];
    let ks: Vec<_> = names
        .iter()
        .map(|n| db.keyspace(n, options))
        .collect::<Result<_, _>>()?;
    let body = vec![b'x'; 160];
    let every = (rate > 0).then(|| Duration::from_secs_f64(1.0 / rate as f64));
    let started = Instant::now();
    let mut next = started;
    let mut micros = Vec::new();
    let mut n = 0u64;
    let (mut halted, mut flushing, mut neither) = (0, 0, 0);
    while started.elapsed() < Duration::from_secs(seconds) {
        if let Some(every) = every {
            next += every;
            if let Some(wait) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        n += 1;
        let (a, b) = (
            format!("user{:04}", n % 5000),
            format!("user{:04}", (n + 1) % 5000),
        );
        let conv = format!("app\0dm\0{a}\0{b}");
        let mut batch = db.batch();
        batch.insert(&ks[0], format!("{conv}\0{n:016}"), body.clone());
        for user in [&a, &b] {
            batch.insert(&ks[1], format!("app\0{user}\0{n:016}"), [1u8; 40]);
            if heads {
                batch.insert(&ks[2], format!("app\0{user}"), n.to_be_bytes());
            }
            batch.insert(&ks[3], format!("app\0{user}\0{conv}"), [2u8; 60]);
        }
        batch.insert(&ks[4], "inbox", n.to_be_bytes());
        let sealed = ks.iter().map(|k| k.sealed_memtable_count()).max();
        let flushes = db.outstanding_flushes();
        let t = Instant::now();
        batch.commit()?;
        let took = t.elapsed();
        micros.push(took.as_micros() as u64);
        if took > Duration::from_millis(20) {
            match (sealed.unwrap_or(0) >= 3, flushes > 0) {
                (true, _) => halted += 1,
                (false, true) => flushing += 1,
                (false, false) => neither += 1,
            }
        }
    }
    micros.sort_unstable();
    let q = |p: f64| micros[((micros.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
    let over = |ms: u64| micros.iter().filter(|&&us| us > ms * 1000).count();
    println!(
        "commits {} in {:.1}s ({:.0}/s), p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms, \
         over 20 ms {} (halt {halted}, flush under way {flushing}, neither {neither}), \
         over 100 ms {}, journals now {}",
        micros.len(),
        started.elapsed().as_secs_f64(),
        micros.len() as f64 / started.elapsed().as_secs_f64(),
        q(0.5),
        q(0.99),
        q(0.999),
        q(1.0),
        over(20),
        over(100),
        db.journal_count()
    );
    Ok(())
}
