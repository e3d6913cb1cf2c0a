//! `tidings up` as an operator runs it: a real process that prints its ready line, stops
//! cleanly on SIGTERM, and starts again on the same data dir with everything it had.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use tidings_testkit::{ServerApi, WsClient};

pub(crate) struct Up {
    pub child: Child,
    pub base: String,
    pub key: String,
    pub secret: String,
}

/// Runs `tidings ARGS` with `envs` (and no inherited `NATS_URL`) and reads its ready line.
pub(crate) fn launch(args: &[&str], envs: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(args)
        .env_remove("NATS_URL")
        .env("TIDINGS_LOG", "warn")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

/// The value of `name=` in a ready line.
pub(crate) fn field(line: &str, name: &str) -> String {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {line:?}"))
        .to_owned()
}

pub(crate) fn start(data_dir: &std::path::Path) -> Up {
    let dir = data_dir.to_str().unwrap();
    let (child, line) = launch(&["up", "--listen", "127.0.0.1:0", "--data-dir", dir], &[]);
    assert!(line.starts_with("tidings ready "), "{line}");
    Up {
        base: field(&line, "listen"),
        key: field(&line, "app_key"),
        secret: field(&line, "app_secret"),
        child,
    }
}

/// Sends `signal` (a name such as `TERM` or `KILL`) to process `pid`.
pub(crate) fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

impl Drop for Up {
    /// A test that fails half-way must not leave a server (and its nats-server) behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(self.child.id(), "TERM");
            for _ in 0..750 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn terminate(mut up: Up) {
    signal(up.child.id(), "TERM");
    let exit = up.child.wait().unwrap();
    assert!(exit.success(), "clean exit on SIGTERM, got {exit}");
}

#[tokio::test]
async fn up_prints_ready_stops_on_sigterm_and_restarts_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let up = start(dir.path());
    let api = ServerApi::new(&up.base, &up.key, &up.secret);
    assert_eq!(api.get_as("", "/healthz").await.status, 200);
    api.register("bob").await;
    let token = api.user_token("alice").await;
    let mut alice = WsClient::connect(&up.base, &token, false).await.unwrap();
    alice.hello(0).await;
    alice.until_synced().await;
    let sent = alice.send_text("1", "bob", "before-restart", "kept").await;
    alice.expect("entry").await; // alice's own copy: the projector has written it.
    terminate(up);

    let up = start(dir.path());
    let api2 = ServerApi::new(&up.base, &up.key, &up.secret);
    assert_eq!(api2.app_key, api.app_key, "the dev app survives a restart");
    let bob = api2.user_token("bob").await;
    let mut bob = WsClient::connect(&up.base, &bob, false).await.unwrap();
    bob.hello(0).await;
    let backlog = bob.until_synced().await;
    assert_eq!(backlog.len(), 1);
    assert_eq!(backlog[0]["msg_id"], sent["msg_id"]);
    terminate(up);
}
