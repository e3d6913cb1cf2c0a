//! Running the projection: one projector over the whole stream, or, with `partitions > 1`, the
//! share of the partitions this instance holds leases for. Instances balance themselves: each
//! holds at most `ceil(partitions / live instances)`, gives back any excess, and takes over the
//! partitions of an instance whose leases expired.

use crate::health::Status;
use crate::lease::{Fence, Lease, Leases};
use crate::partition::Partition;
use crate::{Config, Projector};
use async_nats::jetstream;
use std::collections::BTreeMap;
use std::time::Duration;
use tidings_store::ReadModels;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

/// How long stopping may spend handing leases back: past it they lapse by themselves.
const RELEASE_LIMIT: Duration = Duration::from_secs(2);

/// Runs the projection until `shutdown` is cancelled.
pub async fn run<S: ReadModels>(
    store: S,
    client: async_nats::Client,
    config: Config,
    shutdown: CancellationToken,
) {
    run_reporting(store, client, config, shutdown, Status::default()).await;
}

/// Runs the projection until `shutdown` is cancelled, keeping `status` up to date.
pub async fn run_reporting<S: ReadModels>(
    store: S,
    client: async_nats::Client,
    config: Config,
    shutdown: CancellationToken,
    status: Status,
) {
    status.set_running(true);
    let work = async {
        if config.partitions <= 1 {
            let whole = Partition::WHOLE;
            supervise(store, client, config, whole, None, shutdown, &status).await;
        } else {
            run_partitioned(store, client, config, shutdown, &status).await;
        }
    };
    work.await;
    status.set_running(false);
}

async fn run_partitioned<S: ReadModels>(
    store: S,
    client: async_nats::Client,
    config: Config,
    shutdown: CancellationToken,
    status: &Status,
) {
    let mut backoff = Duration::from_millis(100);
    while !shutdown.is_cancelled() {
        match run_leased(&store, &client, &config, &shutdown, status).await {
            Ok(()) => return,
            Err(error) => {
                // The whole chain: the context alone ("opening the events stream") hides why.
                let error = format!("{error:#}");
                status.set_leases_down(true);
                tracing::error!(%error, ?backoff, "projector leases unavailable; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Runs one partition's projector, restarting it with backoff after failures, until
/// `shutdown` is cancelled.
async fn supervise<S: ReadModels>(
    store: S,
    client: async_nats::Client,
    config: Config,
    partition: Partition,
    fence: Option<Fence>,
    shutdown: CancellationToken,
    status: &Status,
) {
    restart_on_failure(store, client, config, partition, fence, shutdown, status).await;
    // Stopped, or handed over: either way no longer this instance's to report.
    status.partition_clear(partition);
}

async fn restart_on_failure<S: ReadModels>(
    store: S,
    client: async_nats::Client,
    config: Config,
    partition: Partition,
    fence: Option<Fence>,
    shutdown: CancellationToken,
    status: &Status,
) {
    let mut backoff = Duration::from_millis(100);
    while !shutdown.is_cancelled() {
        status.partition_down(partition);
        let result = async {
            // Starting asks NATS several things; a dead server must not hold up shutdown.
            let projector = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                projector = Projector::start(
                    store.clone(),
                    client.clone(),
                    &config,
                    partition,
                    fence.clone(),
                ) => projector?,
            };
            status.partition_clear(partition);
            projector.run(shutdown.clone().cancelled_owned()).await
        }
        .await;
        match result {
            Ok(()) => return,
            Err(error) => {
                let error = format!("{error:#}");
                status.partition_down(partition);
                tracing::error!(partition = partition.index, %error, ?backoff, "projector failed; restarting");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// A partition this instance runs. Dropping it (the instance's task aborted) aborts the
/// partition's projector too, as a crash would.
struct Held {
    lease: Lease,
    stop: CancellationToken,
    task: AbortOnDropHandle<()>,
}

/// Holds leases and runs the held partitions until `shutdown`; fails when the bucket cannot
/// be reached (every partition is then stopped, and their leases lapse).
async fn run_leased<S: ReadModels>(
    store: &S,
    client: &async_nats::Client,
    config: &Config,
    shutdown: &CancellationToken,
    status: &Status,
) -> anyhow::Result<()> {
    let js = jetstream::new(client.clone());
    let instance = format!("{:016x}", rand::random::<u64>());
    let ttl = Duration::from_secs(config.lease_ttl_secs.max(1));
    let leases = tokio::select! {
        _ = shutdown.cancelled() => return Ok(()),
        leases = Leases::open(&js, instance.clone(), ttl) => leases?,
    };
    status.set_leases_down(false);
    tracing::info!(%instance, partitions = config.partitions, "projector instance joining");
    let mut held: BTreeMap<u32, Held> = BTreeMap::new();
    let mut instances = 1;
    let result: anyhow::Result<()> = async {
        loop {
            // A failed heartbeat (say, during a NATS failover) keeps the last count; failed
            // renewals below are what stop partitions.
            match leases.heartbeat().await {
                Ok(alive) => instances = alive,
                Err(error) => tracing::warn!(%error, "projector heartbeat failed"),
            }
            let share = config.partitions.div_ceil(instances as u32) as usize;
            // Renew what is held; drop what was lost or whose runner ended.
            let mut lost = Vec::new();
            for (index, h) in held.iter_mut() {
                if h.task.is_finished() || !leases.renew(*index, &mut h.lease).await {
                    lost.push(*index);
                }
            }
            for index in lost {
                if let Some(h) = held.remove(&index) {
                    h.stop.cancel();
                    let _ = h.task.await;
                }
            }
            // Give back the excess, highest partitions first, so another instance takes them.
            while held.len() > share {
                let (index, h) = held.pop_last().expect("held is not empty");
                h.stop.cancel();
                let _ = h.task.await;
                tracing::info!(partition = index, "projector partition handed over");
                leases.release(index, h.lease).await;
            }
            // Take free partitions up to the share, starting at a per-instance offset so that
            // instances starting together do not all race for partition 0.
            let offset = rand::random::<u32>() % config.partitions;
            for step in 0..config.partitions {
                if held.len() >= share {
                    break;
                }
                let index = (offset + step) % config.partitions;
                if held.contains_key(&index) {
                    continue;
                }
                if let Some(lease) = leases.acquire(index).await {
                    tracing::info!(partition = index, "projector partition taken");
                    let stop = shutdown.child_token();
                    let partition = Partition {
                        index,
                        count: config.partitions,
                    };
                    let status = status.clone();
                    let (store, client, config) = (store.clone(), client.clone(), config.clone());
                    let fence = Some(lease.fence.clone());
                    let stop_partition = stop.clone();
                    let task = AbortOnDropHandle::new(tokio::spawn(async move {
                        supervise(
                            store,
                            client,
                            config,
                            partition,
                            fence,
                            stop_partition,
                            &status,
                        )
                        .await
                    }));
                    held.insert(index, Held { lease, stop, task });
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(leases.renew_every()) => {}
            }
        }
    }
    .await;
    let hand_back = async {
        for (index, h) in std::mem::take(&mut held) {
            h.stop.cancel();
            let _ = h.task.await;
            leases.release(index, h.lease).await;
        }
        leases.leave().await;
    };
    // Leases not handed back lapse after their TTL: a dead NATS must not hold up shutdown.
    if tokio::time::timeout(RELEASE_LIMIT, hand_back)
        .await
        .is_err()
    {
        tracing::warn!("projector leases not handed back in time; they will lapse");
    }
    result
}
