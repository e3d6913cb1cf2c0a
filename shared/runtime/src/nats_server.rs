//! Finding a `nats-server` >= 2.10 and running one as a child process (for `tidings up` and
//! the testkit). Lookup order: `TIDINGS_NATS_SERVER`, the project-local `.tools/nats/bin`
//! installed by `scripts/setup`, then `PATH`.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The oldest server Tidings supports.
pub const MIN_VERSION: (u32, u32) = (2, 10);

/// How often start-up checks whether the server accepts clients.
const READY_POLL: Duration = Duration::from_millis(20);

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
        std::fs::create_dir_all(&options.store_dir)
            .with_context(|| format!("creating {}", options.store_dir.display()))?;
        let ports_dir = options.store_dir.join("ports");
        std::fs::create_dir_all(&ports_dir)?;
        let port = options.port.map_or(-1, i32::from);
        let config_path = options.store_dir.join("nats-server.conf");
        std::fs::write(&config_path, options.config_file(port, &ports_dir))?;
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
        let ports_file = ports_dir.join(format!("nats-server_{}.ports", self.child.id()));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("nats-server exited during start-up: {status}");
            }
            if let Ok(text) = std::fs::read_to_string(&ports_file)
                && let Ok(ports) = serde_json::from_str::<serde_json::Value>(&text)
                && let Some(url) = ports["nats"][0].as_str()
            {
                let addr = url.trim_start_matches("nats://");
                if std::net::TcpStream::connect(addr).is_ok() {
                    return Ok(url.to_owned());
                }
            }
            if Instant::now() > deadline {
                bail!("nats-server did not become ready within 20 s");
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
