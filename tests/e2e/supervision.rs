//! Process hardening, through the real `tidings` binary and real nats-servers: `tidings up`
//! restarts the nats-server child it started when it dies, stops within its grace period
//! whatever state that child is in, and every HTTP process says on `/readyz` whether it can do
//! its work.

use crate::harness::{api_instances, eventually, until, within};
use crate::process::{Up, field, launch, signal, start};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;
use tidings_testkit::server_api::Reply;
use tidings_testkit::{ServerApi, TestNats, WsClient};

/// The grace period `tidings up` promises (`tidings_runtime::shutdown::GRACE`).
const GRACE: Duration = tidings_runtime::shutdown::GRACE;

/// Time a stopping process may need beyond its grace period (exiting, on busy test machines).
const EXIT_SLACK: Duration = Duration::from_secs(3);

fn ports_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("nats").join("ports")
}

/// The pid of the nats-server child `tidings up` runs: the one whose ports file is present
/// (the supervisor removes a dead server's).
fn nats_child(data_dir: &Path) -> Option<u32> {
    let entries = std::fs::read_dir(ports_dir(data_dir)).ok()?;
    let pids: Vec<u32> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("nats-server_")?
                .strip_suffix(".ports")?
                .parse()
                .ok()
        })
        .filter(|pid| alive(*pid))
        .collect();
    match pids[..] {
        [pid] => Some(pid),
        _ => None,
    }
}

/// Whether `pid` is a live process (not gone, not a zombie left unreaped).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

async fn readyz(api: &ServerApi) -> Reply {
    api.get_as("", "/readyz").await
}

/// Waits until /readyz answers 200; returns that answer (asking again could meet a projector
/// that is restarting).
async fn until_ready(api: &ServerApi) -> Reply {
    until("/readyz to answer 200", || async {
        let reply = readyz(api).await;
        (reply.status == 200).then_some(reply)
    })
    .await
}

/// Waits until /readyz answers 503 with the protocol's error body; returns its message.
async fn until_unready(api: &ServerApi) -> String {
    let reply = until("/readyz to answer 503", || async {
        let reply = readyz(api).await;
        (reply.status == 503).then_some(reply)
    })
    .await;
    assert_eq!(reply.body["code"], "unavailable", "{:?}", reply.body);
    reply.body["message"]
        .as_str()
        .expect("a message")
        .to_owned()
}

/// Makes every start of a nats-server on `data_dir` fail until `repair`: the server's ports
/// directory becomes a file.
fn sabotage(data_dir: &Path) {
    std::fs::remove_dir_all(ports_dir(data_dir)).unwrap();
    std::fs::write(ports_dir(data_dir), "").unwrap();
}

fn repair(data_dir: &Path) {
    std::fs::remove_file(ports_dir(data_dir)).unwrap();
}

/// Sends SIGTERM and waits (polling) for the exit; fails when it takes longer than the grace
/// period, after killing the process.
async fn terminate_within_grace(child: &mut Child) {
    signal(child.id(), "TERM");
    let exit = within(GRACE + EXIT_SLACK, || {
        let exit = child.try_wait().unwrap();
        async move { exit }
    })
    .await;
    let Some(exit) = exit else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no exit within {:?} of SIGTERM", GRACE + EXIT_SLACK);
    };
    assert!(exit.success(), "clean exit on SIGTERM, got {exit}");
}

fn server_api(up: &Up) -> ServerApi {
    ServerApi::new(&up.base, &up.key, &up.secret)
}

async fn child_pid(data_dir: &Path) -> u32 {
    let mut pid = None;
    eventually("the nats-server child's ports file", || {
        pid = nats_child(data_dir);
        std::future::ready(pid.is_some())
    })
    .await;
    pid.unwrap()
}

#[tokio::test]
async fn a_killed_nats_server_child_is_restarted_and_the_services_recover() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = start(dir.path());
    let api = server_api(&up);
    let ready = until_ready(&api).await;
    assert_eq!(ready.body["status"], "ready", "{:?}", ready.body);
    assert!(ready.body["lag"].is_u64(), "{:?}", ready.body);
    let bob = api.user_token("bob").await;
    let mut bob = WsClient::connect(&up.base, &bob, false).await.unwrap();
    bob.hello(0).await;
    bob.until_synced().await;

    // A plain kill: the supervisor reaps the child and starts another on the same port.
    let first = child_pid(dir.path()).await;
    signal(first, "KILL");
    eventually("the dead child to be reaped", || {
        std::future::ready(!alive(first))
    })
    .await;
    let second = child_pid(dir.path()).await;
    assert_ne!(first, second);
    until_ready(&api).await;

    // A child that cannot come back: readiness says so until it is back.
    sabotage(dir.path());
    signal(second, "KILL");
    let reason = until_unready(&api).await;
    assert!(
        reason.contains("NATS") || reason.contains("nats-server"),
        "{reason}"
    );
    eventually("readiness to name the restart attempts", || async {
        let reply = readyz(&api).await;
        reply.status == 503
            && reply.body["message"]
                .as_str()
                .is_some_and(|m| m.contains("restart attempt"))
    })
    .await;
    repair(dir.path());
    until_ready(&api).await;

    // Sends and deliveries work again, to a WebSocket opened before both outages too.
    let alice = api.user_token("alice").await;
    let mut alice = WsClient::connect(&up.base, &alice, false).await.unwrap();
    alice.hello(0).await;
    alice.until_synced().await;
    let sent = alice.send_text("1", "bob", "after-restart", "back").await;
    assert_eq!(sent["t"], "sent", "{sent}");
    let entry = bob.expect("entry").await;
    assert_eq!(entry["msg_id"], sent["msg_id"]);
    terminate_within_grace(&mut up.child).await;
}

#[tokio::test]
async fn sigterm_stops_up_within_the_grace_period_while_its_nats_server_cannot_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = start(dir.path());
    let api = server_api(&up);
    until_ready(&api).await;
    let child = child_pid(dir.path()).await;
    sabotage(dir.path());
    signal(child, "KILL");
    eventually("the dead child to be reaped", || {
        std::future::ready(!alive(child))
    })
    .await;
    terminate_within_grace(&mut up.child).await;
}

#[tokio::test]
async fn sigterm_stops_up_within_the_grace_period_while_its_nats_server_is_frozen() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = start(dir.path());
    let api = server_api(&up);
    until_ready(&api).await;
    let child = child_pid(dir.path()).await;
    // Stopped, not dead: connections stay open and nothing answers.
    signal(child, "STOP");
    until_unready(&api).await;
    terminate_within_grace(&mut up.child).await;
    eventually("the frozen child to be gone", || {
        std::future::ready(!alive(child))
    })
    .await;
}

/// Runs `tidings SERVICE` against `nats` on `data_dir`.
pub(crate) fn standalone(service: &str, nats: &TestNats, data_dir: &Path, max_lag: &str) -> Up {
    let dir = data_dir.to_str().unwrap();
    let mut args = vec![service, "--listen", "127.0.0.1:0"];
    if service == "gateway" {
        args.extend(["--data-dir", dir]);
    }
    let (child, line) = launch(
        &args,
        &[
            ("NATS_URL", nats.url()),
            ("TIDINGS_DATA_DIR", dir),
            ("TIDINGS_READY_MAX_LAG", max_lag),
        ],
    );
    assert!(
        line.starts_with(&format!("tidings {service} ready ")),
        "{line}"
    );
    Up {
        child,
        base: field(&line, "listen"),
        key: String::new(),
        secret: String::new(),
    }
}

#[tokio::test]
async fn standalone_services_are_unready_while_the_projection_lags_or_nats_is_gone() {
    let nats = TestNats::start();
    let dir = tempfile::tempdir().unwrap();
    // A gateway without a projector anywhere: its read models stay at checkpoint 0.
    let mut gateway = standalone("gateway", &nats, dir.path(), "2");
    let mut api_service = standalone("api", &nats, dir.path(), "2");
    let gateway_api = ServerApi::new(&gateway.base, "unused", "unused-secret-0000");
    let api = ServerApi::new(&api_service.base, "unused", "unused-secret-0000");
    let ready = readyz(&gateway_api).await;
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    assert_eq!(ready.body["lag"], 0, "{:?}", ready.body);

    // Three events, and nothing folds them: beyond the bound of 2.
    api_instances(&nats, 1, &["u1", "u2", "u3"]).await;
    let reason = until_unready(&gateway_api).await;
    assert!(reason.contains("3 events behind"), "{reason}");
    // The api serves no read models: no lag to be behind on.
    let ready = readyz(&api).await;
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    assert_eq!(ready.body["status"], "ready");
    assert!(ready.body.get("lag").is_none(), "{:?}", ready.body);

    drop(nats);
    let reason = until_unready(&api).await;
    assert!(reason.contains("NATS"), "{reason}");
    let reason = until_unready(&gateway_api).await;
    assert!(reason.contains("NATS"), "{reason}");
    assert_eq!(api.get_as("", "/healthz").await.status, 200, "liveness");
    terminate_within_grace(&mut api_service.child).await;
    terminate_within_grace(&mut gateway.child).await;
}
