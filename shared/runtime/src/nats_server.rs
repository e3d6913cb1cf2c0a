//! Finding a `nats-server` >= 2.10 and running one as a child process: plainly for the testkit,
//! supervised (restarted when it dies) for `tidings up`. Lookup order: `TIDINGS_NATS_SERVER`,
//! the project-local `.tools/nats/bin` installed by `scripts/setup`, then `PATH`.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// The oldest server Tidings supports.
pub const MIN_VERSION: (u32, u32) = (2, 10);

/// How often start-up checks whether the server accepts clients.
const READY_POLL: Duration = Duration::from_millis(20);

/// How long a server may take to accept clients after it is started.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Where `scripts/setup` installs the server, relative to the project root.
pub const LOCAL_INSTALL: &str = ".tools/nats/bin/nats-server";

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let v = text.split_whitespace().find_map(|w| w.strip_prefix('v'))?;
    let mut parts = v.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn version_of(binary: &Path) -> Option<(u32, u32)> {
    let out = Command::new(binary).arg("--version").output().ok()?;
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

fn ancestors_install(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|dir| dir.join(LOCAL_INSTALL))
        .find(|candidate| candidate.is_file())
}

/// Finds a usable `nats-server` binary, saying what was tried when none is found.
pub fn locate() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TIDINGS_NATS_SERVER") {
        let path = PathBuf::from(path);
        match version_of(&path) {
            Some(v) if v >= MIN_VERSION => return Ok(path),
            found => bail!(
                "TIDINGS_NATS_SERVER={} is not a nats-server >= 2.10 (version {found:?})",
                path.display()
            ),
        }
    }
    let mut candidates = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.extend(ancestors_install(&cwd));
    }
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(ancestors_install(&exe));
    }
    candidates.extend(ancestors_install(Path::new(env!("CARGO_MANIFEST_DIR"))));
    candidates.push(PathBuf::from("nats-server"));
    for candidate in &candidates {
        if version_of(candidate).is_some_and(|v| v >= MIN_VERSION) {
            return Ok(candidate.clone());
        }
    }
    bail!(
        "no nats-server >= 2.10 found (tried TIDINGS_NATS_SERVER, {LOCAL_INSTALL} and PATH); \
         run scripts/setup to install one"
    )
}

/// How to run a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// JetStream store directory.
    pub store_dir: PathBuf,
    /// Client port; `None` lets the server pick a free one.
    pub port: Option<u16>,
    /// fsync every JetStream write before acknowledging it (the durable profile), instead of
    /// the server's default periodic sync.
    pub sync_always: bool,
    /// Extra top-level lines for the server's configuration (e.g. a `cluster` block). Not for
    /// `jetstream`: a second `jetstream` block replaces the first.
    pub extra_config: String,
}

impl Options {
    /// The server's configuration file.
    fn config_file(&self, port: i32, ports_dir: &Path) -> String {
        let sync = if self.sync_always {
            "  sync_interval: always\n"
        } else {
            ""
        };
        format!(
            "host: 127.0.0.1\nport: {port}\nports_file_dir: {ports:?}\nmax_payload: 1MB\n\
             jetstream {{\n  store_dir: {js:?}\n{sync}}}\n{extra}\n",
            ports = ports_dir,
            js = self.store_dir.join("jetstream"),
            extra = self.extra_config,
        )
    }

    /// Creates the store and ports directories and writes the configuration file; returns the
    /// file's path and the ports directory.
    fn prepare(&self) -> anyhow::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(&self.store_dir)
            .with_context(|| format!("creating {}", self.store_dir.display()))?;
        let ports_dir = self.store_dir.join("ports");
        std::fs::create_dir_all(&ports_dir)
            .with_context(|| format!("creating {}", ports_dir.display()))?;
        let port = self.port.map_or(-1, i32::from);
        let config_path = self.store_dir.join("nats-server.conf");
        std::fs::write(&config_path, self.config_file(port, &ports_dir))
            .with_context(|| format!("writing {}", config_path.display()))?;
        Ok((config_path, ports_dir))
    }
}

/// The file in which the server with `pid` announces its ports.
fn ports_file(ports_dir: &Path, pid: u32) -> PathBuf {
    ports_dir.join(format!("nats-server_{pid}.ports"))
}

/// The client URL a ports file announces, once the server has written it.
fn announced_url(ports_file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(ports_file).ok()?;
    let ports = serde_json::from_str::<serde_json::Value>(&text).ok()?;
    ports["nats"][0].as_str().map(str::to_owned)
}

/// A running `nats-server`, killed when dropped.
pub struct NatsServer {
    child: Child,
    url: String,
}

impl NatsServer {
    /// Starts a server with JetStream on loopback and waits until it accepts clients.
    pub fn start(options: &Options) -> anyhow::Result<Self> {
        let binary = locate()?;
        let (config_path, ports_dir) = options.prepare()?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = NatsServer {
            child,
            url: String::new(),
        };
        server.url = server.wait_ready(&ports_dir)?;
        Ok(server)
    }

    fn wait_ready(&mut self, ports_dir: &Path) -> anyhow::Result<String> {
        let ports_file = ports_file(ports_dir, self.child.id());
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("nats-server exited during start-up: {status}");
            }
            if let Some(url) = announced_url(&ports_file)
                && std::net::TcpStream::connect(url.trim_start_matches("nats://")).is_ok()
            {
                return Ok(url);
            }
            if Instant::now() > deadline {
                bail!("nats-server did not become ready within {READY_TIMEOUT:?}");
            }
            std::thread::sleep(READY_POLL);
        }
    }

    /// The client URL, e.g. `nats://127.0.0.1:4222`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The first restart of a dead server waits this long; each failed attempt doubles the wait.
const RESTART_FIRST: Duration = Duration::from_millis(100);
/// The longest wait between restart attempts: a server that keeps dying is retried forever,
/// this often.
const RESTART_MAX: Duration = Duration::from_secs(5);
/// A server that ran this long before dying is restarted from the first backoff again.
const RESTART_STABLE: Duration = Duration::from_secs(60);

/// The condition of a supervised server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildState {
    /// The server runs and accepted a connection when it started.
    Running,
    /// The server died; restart attempt `attempt` is pending, the last one failed with `error`.
    Down { attempt: u32, error: String },
}

/// A `nats-server` child that is restarted, with capped exponential backoff, whenever it dies:
/// on the same port and store directory, so clients reconnect by themselves. Killed when
/// stopped or dropped.
pub struct Supervised {
    url: String,
    state: watch::Receiver<ChildState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// One run of the server.
struct Running {
    child: tokio::process::Child,
    ports_file: PathBuf,
    started: Instant,
}

impl Running {
    /// Starts the server and waits until it accepts clients; returns it and its URL.
    async fn start(binary: &Path, options: &Options) -> anyhow::Result<(Self, String)> {
        let (config_path, ports_dir) = options.prepare()?;
        let mut child = tokio::process::Command::new(binary)
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // A start abandoned half-way (shutdown) must not leave a server behind.
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("nats-server has no pid")?;
        let ports_file = ports_file(&ports_dir, pid);
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("nats-server exited during start-up: {status}");
            }
            if let Some(url) = announced_url(&ports_file)
                && tokio::net::TcpStream::connect(url.trim_start_matches("nats://"))
                    .await
                    .is_ok()
            {
                let running = Running {
                    child,
                    ports_file,
                    started: Instant::now(),
                };
                return Ok((running, url));
            }
            if tokio::time::Instant::now() > deadline {
                let _ = child.kill().await;
                bail!("nats-server did not become ready within {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }
}

impl Supervised {
    /// Starts a server (as [`NatsServer::start`] does) and keeps it running until stopped.
    pub async fn start(options: Options) -> anyhow::Result<Self> {
        let binary = locate()?;
        let (running, url) = Running::start(&binary, &options).await?;
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .with_context(|| format!("no port in the nats-server URL {url}"))?;
        // Restarts keep the port: clients only know this URL.
        let options = Options {
            port: Some(port),
            ..options
        };
        let (state_tx, state) = watch::channel(ChildState::Running);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(supervise(binary, options, running, state_tx, stopped));
        Ok(Self {
            url,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The client URL, e.g. `nats://127.0.0.1:4222`; the same across restarts.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's condition, updated as it dies and comes back.
    pub fn state(&self) -> watch::Receiver<ChildState> {
        self.state.clone()
    }

    /// Stops supervising, kills the server and reaps it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // Killing and reaping is prompt; the bound keeps a stop within its grace period
            // whatever happens.
            if tokio::time::timeout(Duration::from_secs(1), task)
                .await
                .is_err()
            {
                tracing::warn!("the local nats-server was not reaped within 1 s");
            }
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        // Without a runtime to finish the task, dropping it drops the child, which kills it.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Waits for the server to die, logs it, reaps it and restarts it, until `stop` fires or is
/// dropped.
async fn supervise(
    binary: PathBuf,
    options: Options,
    mut running: Running,
    state: watch::Sender<ChildState>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut backoff = RESTART_FIRST;
    loop {
        let status = tokio::select! {
            _ = &mut stop => {
                let _ = running.child.kill().await;
                let _ = std::fs::remove_file(&running.ports_file);
                return;
            }
            status = running.child.wait() => status,
        };
        // A killed server leaves its ports file behind.
        let _ = std::fs::remove_file(&running.ports_file);
        let error = match status {
            Ok(status) => format!("exited: {status}"),
            Err(error) => format!("could not be waited for: {error}"),
        };
        tracing::error!(%error, "the local nats-server died; restarting it");
        if running.started.elapsed() >= RESTART_STABLE {
            backoff = RESTART_FIRST;
        }
        let mut attempt = 1;
        let mut last_error = error;
        running = loop {
            state.send_replace(ChildState::Down {
                attempt,
                error: last_error.clone(),
            });
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(RESTART_MAX);
            // Dropping a start in progress (on stop) kills the half-started server.
            let started = tokio::select! {
                _ = &mut stop => return,
                started = Running::start(&binary, &options) => started,
            };
            match started {
                Ok((running, url)) => {
                    tracing::info!(%url, attempt, "the local nats-server is back");
                    break running;
                }
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), attempt, next_in = ?backoff, "restarting the local nats-server failed");
                    last_error = format!("{error:#}");
                    attempt += 1;
                }
            }
        };
        state.send_replace(ChildState::Running);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_durable_profile_lives_in_the_one_jetstream_block() {
        let options = Options {
            store_dir: PathBuf::from("/data"),
            port: None,
            sync_always: true,
            extra_config: "server_name: n1".into(),
        };
        let config = options.config_file(-1, Path::new("/data/ports"));
        assert_eq!(config.matches("jetstream").count(), 2, "{config}");
        let block = config
            .split("jetstream {")
            .nth(1)
            .unwrap()
            .split('}')
            .next()
            .unwrap();
        assert!(block.contains("store_dir: \"/data/jetstream\""), "{config}");
        assert!(block.contains("sync_interval: always"), "{config}");
        assert!(config.contains("server_name: n1"));
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("nats-server: v2.12.8\n"), Some((2, 12)));
        assert_eq!(parse_version("nats-server: v2.9.25"), Some((2, 9)));
        assert!(parse_version("nats-server: v2.9.25").unwrap() < MIN_VERSION);
        assert_eq!(parse_version("garbage"), None);
    }
}
