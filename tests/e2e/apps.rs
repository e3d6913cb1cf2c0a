//! Apps at runtime: an app created through the admin API works at once on every instance
//! (here an all-in-one server, a separate `tidings api` and a separate `tidings gateway` on the
//! same NATS), a rotated secret keeps the old one for its grace only, disabling an app closes
//! its sessions everywhere and refuses its tokens and requests, bad admin input gets the
//! protocol's codes, and `tidings apps` drives it all from the command line.

use crate::access::{ACCESS_ENDED, closed, online};
use crate::harness::{Harness, eventually, until};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tidings_api::admin::AdminCredential;
use tidings_testkit::{ServerApi, WsClient};

/// A `tidings api` or `tidings gateway` process on the harness's NATS.
pub(crate) struct Process {
    child: Child,
    pub(crate) base: String,
    _dir: tempfile::TempDir,
}

impl Process {
    pub(crate) fn start(kind: &str, harness: &Harness, envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args([kind, "--listen", "127.0.0.1:0"])
            .env("TIDINGS_DATA_DIR", dir.path())
            .env("NATS_URL", harness.nats.url())
            .env("TIDINGS_LOG", "warn")
            .env_remove("TIDINGS_ADMIN_KEY")
            .env_remove("TIDINGS_ADMIN_SECRET")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix(&format!("tidings {kind} ready listen="))
            .unwrap_or_else(|| panic!("not a ready line: {line:?}"))
            .to_owned();
        Self {
            child,
            base,
            _dir: dir,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The admin credential `tidings up` wrote into its data dir.
pub(crate) fn credential(h: &Harness) -> AdminCredential {
    tidings::dev_app::admin_in(h.dir.path())
        .unwrap()
        .expect("tidings up writes a development admin credential")
}

/// An admin client of `base`.
pub(crate) fn admin_of(base: &str, admin: &AdminCredential) -> ServerApi {
    ServerApi::new(base, &admin.key, &admin.secret)
}

/// An integrator request over NATS (`tid.in.<app>.<command>`) and its answer.
async fn over_nats(h: &Harness, app: &str, command: &str, body: Value) -> Value {
    let client = h.nats.client().await;
    let answer = client
        .request(format!("tid.in.{app}.{command}"), body.to_string().into())
        .await
        .expect("an answer");
    serde_json::from_slice(&answer.payload).unwrap()
}

/// Creates `key` through the admin API; returns its secret.
pub(crate) async fn create(admin: &ServerApi, body: Value) -> String {
    let created = admin.post("/v1/admin/apps", &body).await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert!(
        created.body["app"].get("secret").is_none(),
        "views hide secrets"
    );
    created.body["secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_app_created_by_the_admin_api_works_at_once_on_every_process() {
    let h = Harness::start().await;
    let api = Process::start("api", &h, &[]);
    let gateway = Process::start("gateway", &h, &[]);
    let admin = admin_of(&h.base, &credential(&h));

    let secret = create(
        &admin,
        json!({"key": "acme", "settings": {"messaging": "friends_only"}}),
    )
    .await;
    // The very next signed request, on another process, is served.
    let acme = ServerApi::new(&api.base, "acme", &secret);
    assert_eq!(acme.register("bob").await.status, 200);
    let upsert = json!({"user_id": "carol", "name": "Carol"});
    let answered = over_nats(&h, "acme", "users.upsert", upsert).await;
    assert_eq!(answered["user_id"], "carol", "{answered}");
    let token = acme.user_token("alice").await;
    let _here = online(&h.base, &token).await;
    let ws = tokio::sync::Mutex::new(online(&gateway.base, &token).await);

    // Its settings apply: friends only, then open once changed (eventual, within a second).
    let refused = ws.lock().await.send_text("1", "bob", "m0", "hi").await;
    assert_eq!(refused["code"], "not_friends", "{refused}");
    let set = admin
        .post(
            "/v1/admin/apps/acme/settings",
            &json!({"messaging": "open"}),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(set.body["app"]["settings"]["messaging"], "open");
    let changed_at = Instant::now();
    let attempt = AtomicU64::new(1);
    let sent = until("the gateway process to apply the new policy", || async {
        let n = attempt.fetch_add(1, Ordering::Relaxed);
        let answer = ws
            .lock()
            .await
            .send_text(&n.to_string(), "bob", &format!("m{n}"), "hi")
            .await;
        (answer["t"] == "sent").then_some(answer)
    })
    .await;
    assert!(sent["conv_seq"].as_u64() == Some(1), "{sent}");
    println!(
        "settings applied on another process {:?} after the change",
        changed_at.elapsed()
    );

    // The list shows the configured development app and the created one, without secrets.
    let listed = admin.get("/v1/admin/apps").await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let apps = listed.body["apps"].as_array().unwrap();
    let find = |key: &str| apps.iter().find(|a| a["key"] == key).cloned();
    assert_eq!(find("acme").unwrap()["source"], "admin");
    assert_eq!(find(&h.api.app_key).unwrap()["source"], "config");
    assert!(!listed.body.to_string().contains(&secret));
}

#[tokio::test]
async fn a_rotated_secret_keeps_the_old_one_for_its_grace_only() {
    let h = Harness::start().await;
    let api = Process::start("api", &h, &[]);
    let gateway = Process::start("gateway", &h, &[]);
    let admin = admin_of(&h.base, &credential(&h));
    let old_secret = "rotor-first-secret-0123";
    assert_eq!(
        create(&admin, json!({"key": "rotor", "secret": old_secret})).await,
        old_secret
    );
    let old = ServerApi::new(&api.base, "rotor", old_secret);
    let old_token = old.user_token("alice").await;

    let rotated = admin
        .post(
            "/v1/admin/apps/rotor/rotate-secret",
            &json!({"grace_secs": 5}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let rotated_at = Instant::now();
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert!(rotated.body["app"]["previous_secret_valid_until"].is_i64());
    let new = ServerApi::new(&api.base, "rotor", &new_secret);

    // During the grace both secrets sign, and tokens of either work, on every process.
    let r = new.register("bob").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = old.register("carol").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let new_token = new.user_token("alice").await;
    for base in [&h.base, &gateway.base] {
        let client = ServerApi::new(base, "unused", "unused");
        for token in [&old_token, &new_token] {
            let inbox = client.get_as(token, "/v1/inbox").await;
            assert_eq!(inbox.status, 200, "{base}: {:?}", inbox.body);
        }
    }
    assert!(
        rotated_at.elapsed() < Duration::from_secs(5),
        "the grace checks ran too late to mean anything"
    );

    // After it, the old secret and its tokens are refused; the new ones keep working.
    eventually("the old secret to be refused", || async {
        old.register("dave").await.status == 401
    })
    .await;
    let refused = old.register("dave").await;
    assert_eq!(refused.body["code"], "bad_signature", "{:?}", refused.body);
    for base in [&h.base, &gateway.base] {
        let api = ServerApi::new(base, "unused", "unused");
        let inbox = api.get_as(&old_token, "/v1/inbox").await;
        assert_eq!(inbox.status, 401, "{base}: {:?}", inbox.body);
        assert_eq!(inbox.body["code"], "unauthorized");
        assert_eq!(api.get_as(&new_token, "/v1/inbox").await.status, 200);
    }
    assert_eq!(new.register("dave").await.status, 200);
    let shown = admin.get("/v1/admin/apps/rotor").await;
    assert!(
        shown.body["app"]
            .get("previous_secret_valid_until")
            .is_none()
    );
}

#[tokio::test]
async fn disabling_an_app_closes_its_sessions_and_refuses_it_everywhere() {
    let h = Harness::start().await;
    let api = Process::start("api", &h, &[]);
    // Serving the harness's development app too, for a bystander.
    let gateway = Process::start(
        "gateway",
        &h,
        &[
            ("TIDINGS_DEV_APP_KEY", &h.api.app_key),
            ("TIDINGS_DEV_APP_SECRET", &h.api.app_secret),
        ],
    );
    let admin = admin_of(&h.base, &credential(&h));
    let secret = create(&admin, json!({"key": "doomed"})).await;
    let doomed = ServerApi::new(&api.base, "doomed", &secret);
    doomed.register("bob").await;
    let token = doomed.user_token("alice").await;
    let mut here = online(&h.base, &token).await;
    let mut there = online(&gateway.base, &token).await;
    // Another app's session is not touched.
    let dev_token = h.api.user_token("alice").await;
    let mut bystander = online(&gateway.base, &dev_token).await;

    let disabled_at = Instant::now();
    let disabled = admin
        .post("/v1/admin/apps/doomed/disable", &json!({}))
        .await;
    assert_eq!(disabled.status, 200, "{:?}", disabled.body);
    assert_eq!(disabled.body["app"]["disabled"], true);

    // Refused at once: its signed requests (forbidden, named) and its tokens, everywhere.
    let refused = doomed.register("carol").await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.body["code"], "forbidden");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
    let upsert = json!({"user_id": "carol", "name": "Carol"});
    let answered = over_nats(&h, "doomed", "users.upsert", upsert).await;
    assert_eq!(answered["code"], "forbidden", "{answered}");
    for base in [&h.base, &gateway.base] {
        let client = ServerApi::new(base, "unused", "unused");
        let inbox = client.get_as(&token, "/v1/inbox").await;
        assert_eq!(inbox.status, 401, "{base}: {:?}", inbox.body);
        assert_eq!(inbox.body["message"], "app is disabled");
        let upgrade = WsClient::connect(base, &token, false).await.err();
        assert_eq!(upgrade.map(|r| r.0), Some(401), "{base}: upgrade refused");
    }
    // Its sessions close on both gateways with the access-ended code.
    for ws in [&mut here, &mut there] {
        let (code, took) = closed(ws, disabled_at).await;
        assert_eq!(code, Some(ACCESS_ENDED));
        assert!(took < Duration::from_secs(1), "closed after {took:?}");
        println!("a disabled app's session closed {took:?} after the disable was asked");
    }
    let sent = bystander.send_text("1", "alice", "still-here", "hi").await;
    assert_eq!(sent["t"], "sent", "{sent}");

    // Disabling is final and idempotent; a disabled app cannot be changed.
    let again = admin
        .post("/v1/admin/apps/doomed/disable", &json!({}))
        .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    for (path, body) in [
        ("/v1/admin/apps/doomed/rotate-secret", json!({})),
        (
            "/v1/admin/apps/doomed/settings",
            json!({"messaging": "open"}),
        ),
    ] {
        let r = admin.post(path, &body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (403, Some("forbidden")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn bad_admin_input_gets_the_protocol_s_codes() {
    let h = Harness::start().await;
    let admin_credential = credential(&h);
    let admin = admin_of(&h.base, &admin_credential);
    let cases = [
        (
            "/v1/admin/apps",
            json!({"key": "bad key!"}),
            400,
            "invalid_id",
        ),
        (
            "/v1/admin/apps",
            json!({"key": "short", "secret": "tiny"}),
            400,
            "invalid_request",
        ),
        (
            "/v1/admin/apps",
            json!({"key": "x", "settings": {"colour": "blue"}}),
            400,
            "invalid_request",
        ),
        (
            "/v1/admin/apps",
            json!({"key": "x", "settings": {"max_group_members": 1}}),
            400,
            "invalid_request",
        ),
        (
            "/v1/admin/apps",
            json!({"key": "x", "settings": {"messaging": "sometimes"}}),
            400,
            "invalid_request",
        ),
        (
            "/v1/admin/apps",
            json!({"key": "x", "surprise": true}),
            400,
            "invalid_request",
        ),
        // The configured development app is read-only at runtime.
        (
            "/v1/admin/apps",
            json!({"key": h.api.app_key}),
            409,
            "conflict",
        ),
        (
            "/v1/admin/apps/dev/settings",
            json!({"messaging": "open"}),
            403,
            "forbidden",
        ),
        ("/v1/admin/apps/dev/disable", json!({}), 403, "forbidden"),
        (
            "/v1/admin/apps/nobody/rotate-secret",
            json!({}),
            404,
            "not_found",
        ),
        ("/v1/admin/apps/nobody/disable", json!({}), 404, "not_found"),
        (
            "/v1/admin/apps/nobody/rotate-secret",
            json!({"grace_secs": 99_999_999}),
            400,
            "invalid_request",
        ),
    ];
    for (path, body, status, code) in cases {
        let r = admin.post(path, &body).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (status, Some(code)),
            "{path} {body}: {:?}",
            r.body
        );
    }
    assert_eq!(admin.get("/v1/admin/apps/nobody").await.status, 404);
    create(&admin, json!({"key": "twice"})).await;
    let r = admin.post("/v1/admin/apps", &json!({"key": "twice"})).await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("conflict")));
    let r = admin
        .post(
            "/v1/admin/apps/twice/rotate-secret",
            &json!({"secret": "short"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (400, Some("invalid_request"))
    );

    // Credentials: an app's own credential, a wrong secret.
    let as_app = admin_of(
        &h.base,
        &AdminCredential {
            key: h.api.app_key.clone(),
            secret: h.api.app_secret.clone(),
        },
    );
    let r = as_app.get("/v1/admin/apps").await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("unknown_app"))
    );
    let forged = admin_of(
        &h.base,
        &AdminCredential {
            key: admin_credential.key.clone(),
            secret: "not-the-admin-secret".into(),
        },
    );
    let r = forged.get("/v1/admin/apps").await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("bad_signature"))
    );
    // The admin credential is not an app's: it signs no server-API request.
    let r = admin.register("eve").await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("unknown_app"))
    );

    // A process without an admin credential has the admin API off.
    let api = Process::start("api", &h, &[]);
    let r = admin_of(&api.base, &admin_credential)
        .get("/v1/admin/apps")
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("forbidden"))
    );
    // One configured by environment has it on.
    let on = Process::start(
        "api",
        &h,
        &[
            ("TIDINGS_ADMIN_KEY", &admin_credential.key),
            ("TIDINGS_ADMIN_SECRET", &admin_credential.secret),
        ],
    );
    let r = admin_of(&on.base, &admin_credential)
        .get("/v1/admin/apps/twice")
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// Runs `tidings apps ARGS` against the harness; returns success, stdout and stderr.
async fn cli(h: &Harness, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["apps", "--url", &h.base, "--data-dir"])
        .arg(h.dir.path())
        .args(args)
        .env_remove("TIDINGS_ADMIN_KEY")
        .env_remove("TIDINGS_ADMIN_SECRET")
        .env_remove("TIDINGS_CONFIG")
        .env("TIDINGS_LOG", "warn")
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

async fn cli_json(h: &Harness, args: &[&str]) -> Value {
    let (ok, stdout, stderr) = cli(h, args).await;
    assert!(ok, "tidings apps {args:?} failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("not JSON: {stdout}"))
}

#[tokio::test]
async fn the_apps_cli_manages_apps_end_to_end() {
    let h = Harness::start().await;
    let created = cli_json(
        &h,
        &["create", "cli-app", "--set", "messaging=friends_only"],
    )
    .await;
    assert_eq!(created["app"]["settings"]["messaging"], "friends_only");
    let first = created["secret"].as_str().unwrap().to_owned();
    let app = ServerApi::new(&h.base, "cli-app", &first);
    assert_eq!(app.register("alice").await.status, 200);

    let listed = cli_json(&h, &["list"]).await;
    assert!(
        listed["apps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "cli-app")
    );

    let set = cli_json(
        &h,
        &["set", "cli-app", "max_group_members=10", "messaging=open"],
    )
    .await;
    assert_eq!(set["app"]["settings"]["max_group_members"], 10);
    assert_eq!(set["app"]["settings"]["messaging"], "open");

    // No grace: the old secret is refused from the answer on.
    let rotated = cli_json(&h, &["rotate-secret", "cli-app", "--grace-secs", "0"]).await;
    let second = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let r = app.register("bob").await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("bad_signature"))
    );
    let app = ServerApi::new(&h.base, "cli-app", &second);
    assert_eq!(app.register("bob").await.status, 200);

    let disabled = cli_json(&h, &["disable", "cli-app"]).await;
    assert_eq!(disabled["app"]["disabled"], true);
    assert_eq!(app.register("carol").await.status, 403);

    // Failures exit non-zero and say why.
    let (ok, _, stderr) = cli(&h, &["create", "cli-app"]).await;
    assert!(!ok);
    assert!(stderr.contains("409 conflict"), "{stderr}");
    let (ok, _, stderr) = cli(&h, &["set", "cli-app", "no-equals-sign"]).await;
    assert!(!ok);
    assert!(stderr.contains("NAME=VALUE"), "{stderr}");
    let empty = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args(["apps", "--url", &h.base, "--data-dir"])
        .arg(empty.path())
        .arg("list")
        .env_remove("TIDINGS_ADMIN_KEY")
        .env_remove("TIDINGS_ADMIN_SECRET")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no admin credential"));
}
