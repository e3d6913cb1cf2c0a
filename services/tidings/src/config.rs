//! The `tidings` configuration: compiled-in defaults, then a TOML file (`--config`), then
//! `TIDINGS_*` / `NATS_URL` variables, then command-line flags.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use tidings_runtime::config::{env_override, env_override_opt, load_file};
use tidings_runtime::http::HttpConfig;
use tidings_store_scylla::ScyllaConfig;

/// Which read-model store the services use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// The embedded store under `data_dir` (no server needed).
    #[default]
    Fjall,
    /// A ScyllaDB cluster (the `scylla` section; run `tidings migrate` first).
    Scylla,
}

impl FromStr for StoreKind {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim() {
            "fjall" => Ok(Self::Fjall),
            "scylla" => Ok(Self::Scylla),
            other => Err(format!("{other:?} is not a store: use fjall or scylla")),
        }
    }
}

/// The default lag bound for readiness: a fraction of a second of the projector's measured
/// throughput (20,000 to 100,000 events/s), far above the few hundred events a projector under
/// load keeps in flight, so only a projector that is stuck or catching up trips it.
pub const DEFAULT_READY_MAX_LAG: u64 = 10_000;

/// Everything a Tidings process may need; each service reads its own section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Where the embedded store (and, for `up`, the local nats-server) keep their data.
    pub data_dir: PathBuf,
    /// The HTTP and WebSocket address.
    pub listen: SocketAddr,
    /// Limits of every HTTP listener (`up`, `api`, `gateway`).
    pub http: HttpConfig,
    /// An existing NATS server or cluster; `up` starts a local one when unset.
    pub nats_url: Option<String>,
    /// Stream replicas: 1 on one node, 3 on a cluster.
    pub nats_replicas: usize,
    /// The durable profile for the local nats-server `up` starts: fsync every write before
    /// acknowledging it (`sync_interval: always`).
    pub durable: bool,
    /// The read-model store: `fjall` (embedded, the default) or `scylla`.
    pub store: StoreKind,
    /// `/readyz` answers 503 while the projection is more than this many events behind the
    /// events stream (processes that serve read models: `up` and `gateway`).
    pub ready_max_lag: u64,
    pub scylla: ScyllaConfig,
    pub api: tidings_api::Config,
    pub gateway: tidings_gateway::Config,
    pub projector: tidings_projector::Config,
    /// The public event feed and its webhooks (`up` runs them).
    pub feed: tidings_feed::Config,
    /// The offline push worker (`up` runs it unless `push.enabled = false`).
    pub push: tidings_push::Config,
    /// The development app's settings (`[dev_app]`, each as in `[[api.apps]]`; e.g.
    /// `feed = true`): the app `up`, `api`, `gateway` and `feed` create in the data dir.
    pub dev_app: tidings_domain::app::AppSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            listen: "127.0.0.1:8080".parse().expect("valid address"),
            http: HttpConfig::default(),
            nats_url: None,
            nats_replicas: 1,
            durable: false,
            store: StoreKind::default(),
            ready_max_lag: DEFAULT_READY_MAX_LAG,
            scylla: ScyllaConfig::default(),
            api: tidings_api::Config::default(),
            gateway: tidings_gateway::Config::default(),
            projector: tidings_projector::Config::default(),
            feed: tidings_feed::Config::default(),
            push: tidings_push::Config::default(),
            dev_app: tidings_domain::app::AppSettings::default(),
        }
    }
}

impl Config {
    /// The development app in `data_dir` (created on first use), with `[dev_app]`'s settings.
    pub fn dev_app(&self, data_dir: &Path) -> anyhow::Result<tidings_api::apps::AppConfig> {
        let mut app = crate::dev_app::load_or_create(data_dir)?;
        app.settings = self.dev_app.clone();
        Ok(app)
    }

    /// Defaults, then `file`, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut config: Config = load_file(file)?;
        env_override(&mut config.data_dir, "TIDINGS_DATA_DIR")?;
        env_override(&mut config.listen, "TIDINGS_LISTEN")?;
        env_override(
            &mut config.http.header_read_timeout_ms,
            "TIDINGS_HTTP_HEADER_READ_TIMEOUT_MS",
        )?;
        env_override(
            &mut config.http.max_unfinished_per_ip,
            "TIDINGS_HTTP_MAX_UNFINISHED_PER_IP",
        )?;
        env_override(
            &mut config.http.max_unfinished,
            "TIDINGS_HTTP_MAX_UNFINISHED",
        )?;
        env_override_opt(&mut config.http.extra_ca_file, "TIDINGS_EXTRA_CA_FILE")?;
        env_override_opt(&mut config.nats_url, "NATS_URL")?;
        env_override(&mut config.nats_replicas, "TIDINGS_NATS_REPLICAS")?;
        env_override(&mut config.durable, "TIDINGS_DURABLE")?;
        env_override(&mut config.store, "TIDINGS_STORE")?;
        env_override(&mut config.ready_max_lag, "TIDINGS_READY_MAX_LAG")?;
        env_override(&mut config.scylla.uri, "SCYLLA_URI")?;
        env_override(&mut config.scylla.keyspace, "TIDINGS_SCYLLA_KEYSPACE")?;
        env_override(&mut config.scylla.consistency, "TIDINGS_SCYLLA_CONSISTENCY")?;
        env_override(&mut config.scylla.replication, "TIDINGS_SCYLLA_REPLICATION")?;
        env_override(
            &mut config.projector.partitions,
            "TIDINGS_PROJECTOR_PARTITIONS",
        )?;
        if let Ok(origins) = std::env::var("TIDINGS_ALLOWED_ORIGINS") {
            config.gateway.allowed_origins = origins
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect();
        }
        env_override(
            &mut config.api.secret_grace_secs,
            "TIDINGS_SECRET_GRACE_SECS",
        )?;
        match (
            std::env::var("TIDINGS_ADMIN_KEY"),
            std::env::var("TIDINGS_ADMIN_SECRET"),
        ) {
            (Ok(key), Ok(secret)) => {
                config.api.admin = Some(tidings_api::admin::AdminCredential { key, secret });
            }
            (Err(_), Err(_)) => {}
            _ => anyhow::bail!("set both TIDINGS_ADMIN_KEY and TIDINGS_ADMIN_SECRET, or neither"),
        }
        // The standalone api serves its own listener with the same limits.
        config.api.http = config.http.clone();
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_and_its_scylla_section_come_from_the_file() {
        let config: Config = toml::from_str(
            r#"
            store = "scylla"
            [scylla]
            uri = "10.0.0.1:9042,10.0.0.2:9042"
            keyspace = "im"
            consistency = "QUORUM"
            replication = "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"
            "#,
        )
        .unwrap();
        assert_eq!(config.store, StoreKind::Scylla);
        assert_eq!(config.scylla.keyspace, "im");
        assert_eq!(
            config.scylla.consistency,
            tidings_store_scylla::ConsistencyLevel::Quorum
        );
        config.scylla.validate().unwrap();
        assert_eq!(Config::default().store, StoreKind::Fjall);
        assert_eq!("scylla".parse::<StoreKind>(), Ok(StoreKind::Scylla));
        assert!("cassandra".parse::<StoreKind>().is_err());
    }

    #[test]
    fn apps_take_settings_beside_key_and_secret_and_admin_has_its_section() {
        let config: Config = toml::from_str(
            r#"
            [api]
            secret_grace_secs = 600
            [api.admin]
            key = "ops"
            secret = "0123456789abcdef0123"
            [[api.apps]]
            key = "acme"
            secret = "0123456789abcdef"
            messaging = "friends_only"
            max_group_members = 50
            [[api.apps]]
            key = "plain"
            secret = "0123456789abcdef"
            "#,
        )
        .unwrap();
        let apps = &config.api.apps;
        assert_eq!(
            apps[0].settings.messaging,
            tidings_domain::conv::MessagingPolicy::FriendsOnly
        );
        assert_eq!(apps[0].settings.max_group_members, 50);
        assert_eq!(apps[1].settings, tidings_api::apps::AppSettings::default());
        assert_eq!(config.api.secret_grace_secs, 600);
        assert_eq!(config.api.admin.unwrap().key, "ops");
        assert!(Config::default().api.admin.is_none());
    }

    #[test]
    fn the_http_section_sets_every_listener_s_limits() {
        let config: Config = toml::from_str(
            r#"
            [http]
            header_read_timeout_ms = 2500
            max_unfinished_per_ip = 8
            extra_ca_file = "/etc/tidings/ca.pem"
            "#,
        )
        .unwrap();
        assert_eq!(config.http.header_read_timeout_ms, 2500);
        assert_eq!(config.http.max_unfinished_per_ip, 8);
        assert_eq!(
            config.http.extra_ca_file.as_deref(),
            Some(std::path::Path::new("/etc/tidings/ca.pem"))
        );
        assert_eq!(
            config.http.max_unfinished,
            HttpConfig::default().max_unfinished
        );
        assert_eq!(Config::default().http, HttpConfig::default());
    }
}
