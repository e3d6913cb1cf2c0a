//! The `tidings` binary. See `tidings --help`.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tidings::config::{Config, StoreKind};
use tidings::up::{Server, connect_nats};
use tidings::{dev_app, replay};
use tidings_runtime::shutdown::{GRACE, bounded};
use tidings_store::{FjallStore, ReadModels};
use tidings_store_scylla::ScyllaStore;
use tokio::time::timeout_at;
use tokio_util::sync::CancellationToken;

/// mimalloc instead of glibc's malloc: under load glibc's allocator took about a tenth of the
/// server's CPU (`_int_malloc`, `unlink_chunk`), on a heap the store's memtables fragment.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tidings",
    version,
    about = "Tidings: an event-sourced IM backend"
)]
struct Cli {
    /// A TOML configuration file.
    #[arg(long, global = true, env = "TIDINGS_CONFIG")]
    config: Option<PathBuf>,
    /// The read-model store (overrides `store` / TIDINGS_STORE).
    #[arg(long, global = true, value_enum)]
    store: Option<StoreKind>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run api, projector and gateway in one process (on the embedded store by default).
    Up {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run only the signed server API against NATS_URL.
    Api {
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run only the projector against NATS_URL, into the configured store (fjall: in --data-dir).
    Projector {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Serve /healthz, /readyz and /metrics on this address (none when unset).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run only the gateway (WebSocket, client REST, in-process commands) against NATS_URL.
    Gateway {
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run only the public event feed (projector and webhook delivery) against NATS_URL; one
    /// process per deployment (`up` runs it too).
    Feed {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Rebuild read models from stream sequence 1 into an empty store and print its digest:
    /// the embedded store in `--into DIR`, or with `store = "scylla"` the configured keyspace
    /// (migrated and empty).
    Replay {
        /// Which projection: `inbox` (inboxes, conversations, timelines, users).
        projection: String,
        /// The directory of a new embedded store (fjall only).
        #[arg(long)]
        into: Option<PathBuf>,
    },
    /// A minimal interactive WebSocket client: type `@user text` to send.
    Chat {
        /// A user token (see scripts/tidings-api).
        #[arg(long)]
        token: String,
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The inbox seq this client already has.
        #[arg(long, default_value_t = 0)]
        since: u64,
    },
    /// Print the digest and checkpoint of a stopped store.
    Digest {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Apply the pending ScyllaDB migrations (scylla/migrations) to SCYLLA_URI's keyspace.
    Migrate,
    /// Manage apps through the admin API, signed with the admin credential: `[api.admin]` /
    /// TIDINGS_ADMIN_KEY and TIDINGS_ADMIN_SECRET, else the one `tidings up` wrote into
    /// --data-dir.
    Apps {
        /// The server (default: http:// and the configured `listen` address).
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[command(subcommand)]
        command: tidings::apps::AppsCommand,
    },
}

/// Exit code for a configuration error (EX_CONFIG is 78; 64 is EX_USAGE, as the style asks).
const BAD_CONFIG: u8 = 64;

/// NATS_URL, else the local server a running `tidings up` on the same data dir started.
fn nats_url(config: &Config) -> anyhow::Result<String> {
    if let Some(url) = &config.nats_url {
        return Ok(url.clone());
    }
    std::fs::read_to_string(config.data_dir.join(tidings::up::NATS_URL_FILE))
        .map(|url| url.trim().to_owned())
        .map_err(|_| anyhow::anyhow!("set NATS_URL (or run `tidings up` on this data dir)"))
}

#[tokio::main]
async fn main() -> ExitCode {
    tidings_runtime::telemetry::init();
    tidings_runtime::metrics::install();
    let cli = Cli::parse();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("tidings: bad configuration: {error:#}");
            return ExitCode::from(BAD_CONFIG);
        }
    };
    if let Some(path) = &config.http.extra_ca_file
        && let Err(error) = tidings_runtime::outbound::trust_extra_ca_file(path)
    {
        eprintln!("tidings: bad configuration: {error:#}");
        return ExitCode::from(BAD_CONFIG);
    }
    if let Some(store) = cli.store {
        config.store = store;
    }
    match run(cli.command, &mut config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tidings: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: &mut Config) -> anyhow::Result<()> {
    match command {
        Command::Up { data_dir, listen } => {
            config.data_dir = data_dir.unwrap_or(config.data_dir.clone());
            config.listen = listen.unwrap_or(config.listen);
            match config.store {
                StoreKind::Fjall => up(Server::build(config.clone()).await?).await,
                StoreKind::Scylla => {
                    let store = ScyllaStore::connect(&config.scylla).await?;
                    up(Server::build_on(config.clone(), store).await?).await
                }
            }
        }
        Command::Api { listen } => {
            let listen = listen.unwrap_or(config.listen);
            let dev_app = config.dev_app(&config.data_dir)?;
            config.api.apps.push(dev_app);
            let client = connect_nats(&nats_url(config)?, config.nats_replicas).await?;
            let api =
                tidings_api::Api::build(&config.api, async_nats::jetstream::new(client.clone()))
                    .await?;
            let app = tidings_api::App::build(&api, listen).await?;
            let token = CancellationToken::new();
            let inbound = {
                let requests = api
                    .subscribe_inbound(&client)
                    .await
                    .map_err(|e| anyhow::anyhow!("subscribing to integrator requests: {e}"))?;
                let (api, token) = (api.clone(), token.clone());
                tokio::spawn(async move { api.serve_inbound(client, requests, token).await })
            };
            println!("tidings api ready listen=http://{}", app.local_addr());
            let server = tokio::spawn(app.run(token.clone().cancelled_owned()));
            tidings_runtime::shutdown::signal().await;
            // Requests in flight (HTTP and over NATS) may finish, within one grace period.
            let deadline = tokio::time::Instant::now() + GRACE;
            token.cancel();
            if let Ok(served) = timeout_at(deadline, server).await {
                served??;
            } else {
                tracing::warn!("HTTP requests still open after the grace period; abandoned");
            }
            match timeout_at(deadline, inbound).await {
                Ok(finished) => {
                    finished?.map_err(|e| anyhow::anyhow!("integrator requests over NATS: {e}"))
                }
                Err(_) => {
                    tracing::warn!("an integrator request outlived the grace period; abandoned");
                    Ok(())
                }
            }
        }
        Command::Projector { data_dir, listen } => {
            let data_dir = data_dir.unwrap_or(config.data_dir.clone());
            let client = connect_nats(&nats_url(config)?, config.nats_replicas).await?;
            match config.store {
                StoreKind::Fjall => {
                    let store = FjallStore::open(&data_dir.join("store"))?;
                    projector(store, client, listen, config).await
                }
                StoreKind::Scylla => {
                    let store = ScyllaStore::connect(&config.scylla).await?;
                    projector(store, client, listen, config).await
                }
            }
        }
        Command::Gateway { data_dir, listen } => {
            let data_dir = data_dir.unwrap_or(config.data_dir.clone());
            let listen = listen.unwrap_or(config.listen);
            let dev_app = config.dev_app(&data_dir)?;
            config.api.apps.push(dev_app);
            let client = connect_nats(&nats_url(config)?, config.nats_replicas).await?;
            match config.store {
                StoreKind::Fjall => {
                    let store = FjallStore::open(&data_dir.join("store"))?;
                    gateway(store, client, listen, config).await
                }
                StoreKind::Scylla => {
                    let store = ScyllaStore::connect(&config.scylla).await?;
                    gateway(store, client, listen, config).await
                }
            }
        }
        Command::Feed { data_dir } => {
            let data_dir = data_dir.unwrap_or(config.data_dir.clone());
            let dev_app = config.dev_app(&data_dir)?;
            config.api.apps.push(dev_app);
            tidings::feed::run(config, &nats_url(config)?).await
        }
        Command::Replay { projection, into } => {
            anyhow::ensure!(
                projection == tidings_projector::PROJECTION,
                "unknown projection {projection:?}: the only one is \"inbox\""
            );
            let client = connect_nats(&nats_url(config)?, config.nats_replicas).await?;
            let (large_group, row_cache) =
                (config.projector.large_group, config.projector.row_cache);
            let report = match (config.store, into) {
                (StoreKind::Fjall, Some(into)) => {
                    let store = FjallStore::open(&into)
                        .with_context(|| format!("opening {}", into.display()))?;
                    let report =
                        replay::replay(&client, store.clone(), large_group, row_cache, true)
                            .await?;
                    store.sync_and_leave()?;
                    report
                }
                (StoreKind::Fjall, None) => {
                    anyhow::bail!(
                        "replay into the embedded store needs --into DIR (a new directory)"
                    )
                }
                (StoreKind::Scylla, None) => {
                    let store = ScyllaStore::connect(&config.scylla).await?;
                    replay::replay(&client, store, large_group, row_cache, true).await?
                }
                (StoreKind::Scylla, Some(_)) => anyhow::bail!(
                    "--into is for the embedded store; a Scylla replay fills the configured keyspace (TIDINGS_SCYLLA_KEYSPACE)"
                ),
            };
            println!(
                "replayed events={} unreadable={} through_seq={} digest={} rebuild_secs={:.3} digest_secs={:.3}",
                report.events,
                report.unreadable,
                report.through_seq,
                report.digest,
                report.rebuild.as_secs_f64(),
                report.digest_time.as_secs_f64()
            );
            Ok(())
        }
        Command::Chat { token, url, since } => tidings::chat::chat(&url, &token, since).await,
        Command::Digest { data_dir } => {
            let data_dir = data_dir.unwrap_or(config.data_dir.clone());
            match config.store {
                StoreKind::Fjall => {
                    let dir = data_dir.join("store");
                    // Opening creates a store: a mistyped directory would digest as empty.
                    anyhow::ensure!(
                        dir.is_dir(),
                        "no embedded store at {} (is --data-dir right?)",
                        dir.display()
                    );
                    digest(FjallStore::open(&dir)?).await
                }
                StoreKind::Scylla => digest(ScyllaStore::connect(&config.scylla).await?).await,
            }
        }
        Command::Migrate => tidings::migrate::run(&config.scylla).await,
        Command::Apps {
            url,
            data_dir,
            command,
        } => {
            let data_dir = data_dir.unwrap_or(config.data_dir.clone());
            let admin = match config.api.admin.clone() {
                Some(admin) => admin,
                None => dev_app::admin_in(&data_dir)?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "no admin credential: set TIDINGS_ADMIN_KEY and TIDINGS_ADMIN_SECRET \
                         ([api.admin]), or point --data-dir at a `tidings up` data dir"
                    )
                })?,
            };
            let url = url.unwrap_or_else(|| format!("http://{}", config.listen));
            tidings::apps::run(&tidings::apps::Target { url, admin }, &command).await
        }
    }
}

async fn up<S: ReadModels>(server: Server<S>) -> anyhow::Result<()> {
    println!("{}", server.ready_line());
    server.run(tidings_runtime::shutdown::signal()).await
}

async fn projector<S: ReadModels>(
    store: S,
    client: async_nats::Client,
    listen: Option<SocketAddr>,
    config: &Config,
) -> anyhow::Result<()> {
    let token = CancellationToken::new();
    let status = tidings_projector::Status::default();
    let server = match listen {
        Some(listen) => {
            let readiness = tidings_api::health::Readiness::new(client.clone())
                .with(tidings::ready::Projector(status.clone()))
                .with(tidings::ready::Lag::new(
                    store.clone(),
                    client.clone(),
                    config.projector.partitions,
                    config.ready_max_lag,
                ));
            let listener = tokio::net::TcpListener::bind(listen).await?;
            println!("tidings projector listen=http://{}", listener.local_addr()?);
            Some(tokio::spawn(tidings_api::edge::serve(
                listener,
                tidings_api::health::router(readiness),
                config.http.clone(),
                token.clone().cancelled_owned(),
            )))
        }
        None => None,
    };
    let supervisor = tokio::spawn(tidings_projector::run_reporting(
        store,
        client,
        config.projector.clone(),
        token.clone(),
        status,
    ));
    println!("tidings projector ready");
    tidings_runtime::shutdown::signal().await;
    token.cancel();
    if let Some(server) = server {
        server.abort();
    }
    if let Some(finished) = bounded("the projector", GRACE, supervisor).await {
        finished?;
    }
    Ok(())
}

async fn gateway<S: ReadModels>(
    store: S,
    client: async_nats::Client,
    listen: SocketAddr,
    config: &Config,
) -> anyhow::Result<()> {
    let api =
        tidings_api::Api::build(&config.api, async_nats::jetstream::new(client.clone())).await?;
    let token = CancellationToken::new();
    let tracker = tokio_util::task::TaskTracker::new();
    // No projector here: the lag says whether the read models this gateway serves are fresh.
    let readiness = api.readiness().with(tidings::ready::Lag::new(
        store.clone(),
        client.clone(),
        config.projector.partitions,
        config.ready_max_lag,
    ));
    let gateway = tidings_gateway::Gateway::new(
        config.gateway.clone(),
        store,
        tidings_projector::Partition::projections(config.projector.partitions),
        &api,
        client,
        token.clone(),
        &tracker,
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!(
        "tidings gateway ready listen=http://{}",
        listener.local_addr()?
    );
    let router = gateway
        .router()
        .merge(tidings_api::health::router(readiness))
        .merge(tidings_api::openapi::router());
    let server = tokio::spawn(tidings_api::edge::serve(
        listener,
        router,
        config.http.clone(),
        token.clone().cancelled_owned(),
    ));
    tidings_runtime::shutdown::signal().await;
    // Requests in flight and sessions closing share one grace period.
    let deadline = tokio::time::Instant::now() + GRACE;
    token.cancel();
    if let Ok(served) = timeout_at(deadline, server).await {
        served??;
    } else {
        tracing::warn!("HTTP requests still open after the grace period; abandoned");
    }
    tracker.close();
    if timeout_at(deadline, tracker.wait()).await.is_err() {
        tracing::warn!("sessions still closing after the grace period; abandoned");
    }
    Ok(())
}

async fn digest<S: ReadModels>(store: S) -> anyhow::Result<()> {
    println!(
        "checkpoint={} digest={}",
        store.checkpoint(tidings_projector::PROJECTION).await?,
        store.digest().await?
    );
    Ok(())
}
