//! `tidings up` as an operator runs it: a real process that prints its ready line, stops
//! cleanly on SIGTERM, and starts again on the same data dir with everything it had.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use tidings_testkit::{ServerApi, WsClient};

struct Up {
    child: Child,
    base: String,
    key: String,
    secret: String,
}

fn start(data_dir: &std::path::Path) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("NATS_URL")
        .env("TIDINGS_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
            .to_owned()
    };
    assert!(line.starts_with("tidings ready "), "{line}");
    Up {
        base: field("listen"),
        key: field("app_key"),
        secret: field("app_secret"),
        child,
    }
}

fn terminate(mut up: Up) {
    let status = Command::new("kill")
        .args(["-TERM", &up.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
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
