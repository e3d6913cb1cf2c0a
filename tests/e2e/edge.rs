//! The edge: every route of the server API and the client REST/WebSocket, walked with path
//! parameters, query values, headers and bodies that do not parse, answers the protocol's
//! `{"code","message"}` with the documented status; and the listener closes requests that never
//! finish and refuses a source holding too many of them.

use crate::harness::{Harness, eventually};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use tidings_testkit::server_api::{now_secs, signature};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One route, with what it takes: good values for its path parameters (and the code a
/// well-formed but wrong value gets), query values it must refuse, and a good body.
struct Route {
    method: &'static str,
    path: &'static str,
    /// How the route authenticates.
    auth: Auth,
    /// `(parameter, good value, code for a value that decodes but is not valid)`.
    params: &'static [(&'static str, &'static str, &'static str)],
    /// `key=value` pairs refused as `invalid_request`.
    bad_queries: &'static [&'static str],
    /// A body the route takes (JSON object routes only).
    body: Option<&'static str>,
    /// Whether the route reads its query string (every client route does: `token`).
    query: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// The server API's signature.
    Signed,
    /// The same signature, with the admin credential.
    Admin,
    /// A user token.
    Token,
    /// None (health checks).
    Open,
}

const ID: &str = "invalid_id";

/// A well-formed message id.
const MSG: &str = "019b7b1c-3a00-7000-8000-000000000001";

const fn server(
    path: &'static str,
    params: &'static [(&'static str, &'static str, &'static str)],
    body: Option<&'static str>,
) -> Route {
    Route {
        method: "POST",
        path,
        auth: Auth::Signed,
        params,
        bad_queries: &[],
        body,
        query: false,
    }
}

const fn admin(
    method: &'static str,
    path: &'static str,
    params: &'static [(&'static str, &'static str, &'static str)],
    body: Option<&'static str>,
) -> Route {
    Route {
        method,
        path,
        auth: Auth::Admin,
        params,
        bad_queries: &[],
        body,
        query: false,
    }
}

const fn client(
    method: &'static str,
    path: &'static str,
    params: &'static [(&'static str, &'static str, &'static str)],
    bad_queries: &'static [&'static str],
    body: Option<&'static str>,
) -> Route {
    Route {
        method,
        path,
        auth: Auth::Token,
        params,
        bad_queries,
        body,
        query: true,
    }
}

const fn open_get(
    path: &'static str,
    params: &'static [(&'static str, &'static str, &'static str)],
) -> Route {
    Route {
        method: "GET",
        path,
        auth: Auth::Open,
        params,
        bad_queries: &[],
        body: None,
        query: false,
    }
}

/// Every route of both routers. `every_route_is_walked` fails when a router has one more.
const ROUTES: &[Route] = &[
    server("/v1/users", &[], Some(r#"{"user_id":"zed","name":"Zed"}"#)),
    server(
        "/v1/users/{user_id}/token",
        &[("user_id", "alice", ID)],
        Some(r#"{"ttl_secs":60}"#),
    ),
    server(
        "/v1/users/{user_id}/deactivate",
        &[("user_id", "nobody", ID)],
        None,
    ),
    server(
        "/v1/users/{user_id}/tokens/revoke",
        &[("user_id", "nobody", ID)],
        None,
    ),
    server(
        "/v1/users/{user_id}/devices/{device}/sign-out",
        &[("user_id", "alice", ID), ("device", "phone", ID)],
        None,
    ),
    server(
        "/v1/messages",
        &[],
        Some(
            r#"{"from":"alice","to":{"user":"bob"},"client_msg_id":"w1","body":{"type":"text","text":"hi"}}"#,
        ),
    ),
    server(
        "/v1/system/messages",
        &[],
        Some(r#"{"to":["bob"],"body":{"type":"text","text":"hi"}}"#),
    ),
    server(
        "/v1/relations/{action}",
        &[("action", "friend", "not_found")],
        Some(r#"{"user":"alice","other":"bob"}"#),
    ),
    server(
        "/v1/server/conversations/{conv}/messages/{msg_id}/recall",
        &[("conv", "d~alice~bob", ID), ("msg_id", MSG, ID)],
        Some(r#"{"actor":"alice"}"#),
    ),
    server(
        "/v1/server/conversations/{conv}/messages/{msg_id}/edit",
        &[("conv", "d~alice~bob", ID), ("msg_id", MSG, ID)],
        Some(r#"{"actor":"alice","body":{"type":"text","text":"hi"},"expected_edit_seq":0}"#),
    ),
    server(
        "/v1/server/groups/{group_id}/ops",
        &[("group_id", "team", ID)],
        Some(r#"{"actor":"alice","op":"announce","text":"hi"}"#),
    ),
    server(
        "/v1/server/conversations/{conv}/hide",
        &[("conv", "d~alice~bob", ID)],
        Some(r#"{"user":"alice","conv_seq":1}"#),
    ),
    server(
        "/v1/server/conversations/{conv}/clear",
        &[("conv", "d~alice~bob", ID)],
        Some(r#"{"user":"alice","up_to":1}"#),
    ),
    server(
        "/v1/server/conversations/{conv}/settings",
        &[("conv", "d~alice~bob", ID)],
        Some(r#"{"user":"alice","pinned":true}"#),
    ),
    server(
        "/v1/server/conversations/{conv}/reactions",
        &[("conv", "d~alice~bob", ID)],
        Some(r#"{"user":"alice","msg_id":"019b7b1c-3a00-7000-8000-000000000001","key":"ok"}"#),
    ),
    server(
        "/v1/server/conversations/{conv}/pins",
        &[("conv", "d~alice~bob", ID)],
        Some(r#"{"msg_id":"019b7b1c-3a00-7000-8000-000000000001","pin":true}"#),
    ),
    client(
        "GET",
        "/v1/inbox",
        &[],
        &["after=abc", "after=-1", "limit=x"],
        None,
    ),
    client("GET", "/v1/conversations", &[], &[], None),
    client(
        "POST",
        "/v1/presence/query",
        &[],
        &[],
        Some(r#"{"users":["bob"]}"#),
    ),
    client(
        "GET",
        "/v1/conversations/{conv}/messages",
        &[("conv", "d~alice~bob", ID)],
        &[
            "before=abc",
            "limit=-1",
            "since_ts=abc",
            "until_ts=1.5",
            "order=sideways",
            "after=-1",
            "after=3",
            "order=oldest&before=3",
            "since_ts=9&until_ts=9",
        ],
        None,
    ),
    client(
        "POST",
        "/v1/conversations/{conv}/files",
        &[("conv", "d~alice~bob", ID)],
        &[],
        None,
    ),
    client(
        "GET",
        "/v1/files/{file_id}",
        &[("file_id", "019b7b1c-3a00-7000-8000-0000000000f1", ID)],
        &[],
        None,
    ),
    client(
        "POST",
        "/v1/conversations/{conv}/messages/{msg_id}/recall",
        &[("conv", "d~alice~bob", ID), ("msg_id", MSG, ID)],
        &[],
        None,
    ),
    client(
        "POST",
        "/v1/conversations/{conv}/messages/{msg_id}/edit",
        &[("conv", "d~alice~bob", ID), ("msg_id", MSG, ID)],
        &[],
        Some(r#"{"body":{"type":"text","text":"hi"},"expected_edit_seq":0}"#),
    ),
    client(
        "POST",
        "/v1/conversations/{conv}/read",
        &[("conv", "d~alice~bob", ID)],
        &[],
        Some(r#"{"conv_seq":1}"#),
    ),
    client(
        "POST",
        "/v1/conversations/{conv}/hide",
        &[("conv", "d~alice~bob", ID)],
        &[],
        Some(r#"{"conv_seq":1}"#),
    ),
    client(
        "POST",
        "/v1/conversations/{conv}/clear",
        &[("conv", "d~alice~bob", ID)],
        &[],
        Some(r#"{"up_to":1}"#),
    ),
    client(
        "POST",
        "/v1/conversations/{conv}/settings",
        &[("conv", "d~alice~bob", ID)],
        &[],
        Some(r#"{"pinned":true}"#),
    ),
    client(
        "POST",
        "/v1/conversations/{conv}/messages/{msg_id}/reactions",
        &[
            ("conv", "d~alice~bob", ID),
            ("msg_id", "019b7b1c-3a00-7000-8000-000000000001", ID),
        ],
        &[],
        Some(r#"{"key":"ok"}"#),
    ),
    client(
        "DELETE",
        "/v1/conversations/{conv}/messages/{msg_id}/reactions/{key}",
        &[
            ("conv", "d~alice~bob", ID),
            ("msg_id", "019b7b1c-3a00-7000-8000-000000000001", ID),
            // Any text of 1-32 bytes is a key: the message is not found first.
            ("key", "ok", "not_found"),
        ],
        &[],
        None,
    ),
    client(
        "GET",
        "/v1/conversations/{conv}/pins",
        &[("conv", "d~alice~bob", ID)],
        &[],
        None,
    ),
    client(
        "POST",
        "/v1/conversations/{conv}/pins/{msg_id}",
        &[
            ("conv", "d~alice~bob", ID),
            ("msg_id", "019b7b1c-3a00-7000-8000-000000000001", ID),
        ],
        &[],
        None,
    ),
    client(
        "DELETE",
        "/v1/conversations/{conv}/pins/{msg_id}",
        &[
            ("conv", "d~alice~bob", ID),
            ("msg_id", "019b7b1c-3a00-7000-8000-000000000001", ID),
        ],
        &[],
        None,
    ),
    client(
        "GET",
        "/v1/users/{user_id}",
        &[("user_id", "bob", ID)],
        &[],
        None,
    ),
    client(
        "POST",
        "/v1/users:batchGet",
        &[],
        &[],
        Some(r#"{"user_ids":["bob"]}"#),
    ),
    client(
        "GET",
        "/v1/users:changed",
        &[],
        &["since=abc", "limit=x"],
        None,
    ),
    client("GET", "/v1/friends", &[], &["since=abc"], None),
    client(
        "DELETE",
        "/v1/friends/{user_id}",
        &[("user_id", "bob", ID)],
        &[],
        None,
    ),
    client(
        "GET",
        "/v1/friends/requests",
        &[],
        &["since=-1", "direction=sideways"],
        None,
    ),
    client(
        "POST",
        "/v1/friends/requests",
        &[],
        &[],
        Some(r#"{"to":"bob","note":"hi"}"#),
    ),
    client(
        "DELETE",
        "/v1/friends/requests/{user_id}",
        &[("user_id", "bob", ID)],
        &[],
        None,
    ),
    client(
        "POST",
        "/v1/friends/requests/{user_id}/accept",
        &[("user_id", "bob", ID)],
        &[],
        None,
    ),
    client(
        "POST",
        "/v1/friends/requests/{user_id}/reject",
        &[("user_id", "bob", ID)],
        &[],
        None,
    ),
    client("GET", "/v1/blocks", &[], &["since=abc"], None),
    client("POST", "/v1/blocks", &[], &[], Some(r#"{"user_id":"bob"}"#)),
    client(
        "DELETE",
        "/v1/blocks/{user_id}",
        &[("user_id", "bob", ID)],
        &[],
        None,
    ),
    client("GET", "/v1/devices", &[], &[], None),
    client(
        "DELETE",
        "/v1/devices/{device}",
        &[("device", "phone", ID)],
        &[],
        None,
    ),
    client("GET", "/v1/relations:changed", &[], &["since=-1"], None),
    client("GET", "/v1/groups", &[], &["since=abc"], None),
    client(
        "POST",
        "/v1/groups",
        &[],
        &[],
        Some(r#"{"group_id":"g1","name":"G","members":["bob"]}"#),
    ),
    client(
        "GET",
        "/v1/groups/{group_id}",
        &[("group_id", "team", ID)],
        &[],
        None,
    ),
    client(
        "POST",
        "/v1/groups/{group_id}/ops",
        &[("group_id", "team", ID)],
        &[],
        Some(r#"{"op":"announce","text":"hi"}"#),
    ),
    client(
        "GET",
        "/v1/groups/{group_id}/members",
        &[("group_id", "team", ID)],
        &["limit=abc", "limit=0"],
        None,
    ),
    client("GET", "/v1/ws", &[], &["format=xml"], None),
    // The admin API (`tidings_api::admin`).
    admin(
        "POST",
        "/v1/admin/apps",
        &[],
        Some(r#"{"key":"walked","settings":{"messaging":"open"}}"#),
    ),
    admin("GET", "/v1/admin/apps", &[], None),
    admin("GET", "/v1/admin/apps/{key}", &[("key", "dev", ID)], None),
    admin(
        "POST",
        "/v1/admin/apps/{key}/rotate-secret",
        &[("key", "nobody", ID)],
        Some(r#"{"grace_secs":60}"#),
    ),
    admin(
        "POST",
        "/v1/admin/apps/{key}/settings",
        &[("key", "nobody", ID)],
        Some(r#"{"max_group_members":10}"#),
    ),
    admin(
        "POST",
        "/v1/admin/apps/{key}/disable",
        &[("key", "nobody", ID)],
        None,
    ),
    // Liveness and readiness (`tidings_api::health`, on every HTTP process).
    Route {
        method: "GET",
        path: "/healthz",
        auth: Auth::Open,
        params: &[],
        bad_queries: &[],
        body: None,
        query: false,
    },
    Route {
        method: "GET",
        path: "/readyz",
        auth: Auth::Open,
        params: &[],
        bad_queries: &[],
        body: None,
        query: false,
    },
    // `tidings up` only: the development sign-in and the web client's files.
    Route {
        method: "POST",
        path: "/v1/dev/token",
        auth: Auth::Open,
        params: &[],
        bad_queries: &[],
        body: Some(r#"{"user_id":"walker","name":"Walker"}"#),
        query: false,
    },
    open_get("/app", &[]),
    open_get("/app/", &[]),
    open_get("/app/{file}", &[("file", "app.js", "not_found")]),
    Route {
        method: "GET",
        path: "/metrics",
        auth: Auth::Open,
        params: &[],
        bad_queries: &[],
        body: None,
        query: false,
    },
    // The OpenAPI document (`tidings_api::openapi`).
    Route {
        method: "GET",
        path: "/v1/openapi.json",
        auth: Auth::Open,
        params: &[],
        bad_queries: &[],
        body: None,
        query: false,
    },
    client(
        "GET",
        "/v1/conversations:changed",
        &[],
        &["since=abc", "limit=x", "limit=0"],
        None,
    ),
    // Customer-service accounts (`tidings_api::http_service`, `tidings_gateway::services`).
    server(
        "/v1/server/services/{service}",
        &[("service", "acme", ID)],
        Some(r#"{"strategy":"sticky"}"#),
    ),
    server(
        "/v1/server/services/{service}/agents/{agent}",
        &[("service", "acme", ID), ("agent", "bob", ID)],
        Some(r#"{"capacity":2}"#),
    ),
    server(
        "/v1/server/services/{service}/agents/{agent}/detach",
        &[("service", "acme", ID), ("agent", "bob", ID)],
        None,
    ),
    server(
        "/v1/server/services/{service}/agents/{agent}/availability",
        &[("service", "acme", ID), ("agent", "bob", ID)],
        Some(r#"{"available":false}"#),
    ),
    client(
        "GET",
        "/v1/services/{service}",
        &[("service", "acme", ID)],
        &[],
        None,
    ),
    client(
        "POST",
        "/v1/services/{service}/availability",
        &[("service", "acme", ID)],
        &[],
        Some(r#"{"available":true}"#),
    ),
    client(
        "GET",
        "/v1/services/{service}/customers/{customer}/messages",
        &[("service", "acme", ID), ("customer", "carol", ID)],
        &["limit=abc", "limit=0", "before=x", "agent=bad%20id"],
        None,
    ),
    client(
        "POST",
        "/v1/services/{service}/customers/{customer}/messages",
        &[("service", "acme", ID), ("customer", "carol", ID)],
        &[],
        Some(r#"{"client_msg_id":"w1","body":{"type":"text","text":"hi"}}"#),
    ),
    client(
        "POST",
        "/v1/services/{service}/customers/{customer}/take",
        &[("service", "acme", ID), ("customer", "carol", ID)],
        &[],
        None,
    ),
    client(
        "POST",
        "/v1/services/{service}/customers/{customer}/transfer",
        &[("service", "acme", ID), ("customer", "carol", ID)],
        &[],
        Some(r#"{"to":"bob","note":"hi"}"#),
    ),
    client(
        "POST",
        "/v1/services/{service}/customers/{customer}/close",
        &[("service", "acme", ID), ("customer", "carol", ID)],
        &[],
        None,
    ), // Sensitive-word lists (`tidings_api::http_words`, issue 16).
    Route {
        method: "GET",
        path: "/v1/words",
        auth: Auth::Signed,
        params: &[],
        bad_queries: &[],
        body: None,
        query: false,
    },
    Route {
        method: "GET",
        path: "/v1/words/{list}",
        auth: Auth::Signed,
        params: &[("list", "walked", ID)],
        bad_queries: &[],
        body: None,
        query: false,
    },
    server(
        "/v1/words/{list}",
        &[("list", "walked", ID)],
        Some(r#"{"action":"mask","add":["walker"]}"#),
    ),
    // The feed webhooks' dead letters (`tidings_api::admin_feed`).
    Route {
        method: "GET",
        path: "/v1/admin/apps/{key}/feed/dead-letters",
        auth: Auth::Admin,
        params: &[("key", "dev", ID)],
        bad_queries: &["after=x", "after=-1", "limit=0", "limit=abc", "colour=blue"],
        body: None,
        query: false,
    },
    // Offline push (issue 16 item 4).
    client(
        "PUT",
        "/v1/devices/{device}/push",
        &[("device", "phone", ID)],
        &[],
        Some(r#"{"provider":"webhook","token":"t"}"#),
    ),
    client(
        "DELETE",
        "/v1/devices/{device}/push",
        &[("device", "phone", ID)],
        &[],
        None,
    ),
    client("GET", "/v1/push", &[], &[], None),
    client("PUT", "/v1/push/dnd", &[], &[], Some(r#"{"until":1}"#)),
    // Tags and broadcasts (issue 16 item 6).
    server(
        "/v1/users/{user_id}/tags",
        &[("user_id", "alice", ID)],
        Some(r#"{"add":["walked"]}"#),
    ),
    Route {
        method: "GET",
        path: "/v1/users/{user_id}/tags",
        auth: Auth::Signed,
        params: &[("user_id", "alice", ID)],
        bad_queries: &[],
        body: None,
        query: false,
    },
    server(
        "/v1/broadcasts",
        &[],
        Some(r#"{"body":{"type":"text","text":"walked"}}"#),
    ),
    Route {
        method: "GET",
        path: "/v1/tags/{tag}/users",
        auth: Auth::Signed,
        params: &[("tag", "walked", ID)],
        bad_queries: &["limit=x", "limit=0"],
        body: None,
        query: false,
    },
    client(
        "GET",
        "/v1/broadcasts",
        &[],
        &["after=abc", "after=-1", "limit=x", "limit=0"],
        None,
    ),
];

/// The `(METHOD, path)` pairs a source file's `.route(...)` calls register.
pub(crate) fn routes_in(source: &str, file: &str) -> Vec<(String, String)> {
    for unsupported in [".nest(", ".route_service(", ".nest_service("] {
        assert!(
            !source.contains(unsupported),
            "{file}: {unsupported} is not understood by the route walker; teach it"
        );
    }
    // Unit tests (at the end of a file, by convention) build routers of their own.
    let source = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = Vec::new();
    for (at, _) in source.match_indices(".route(") {
        let rest = &source[at + ".route(".len()..];
        // The call's arguments, up to its closing parenthesis.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("{file}: unbalanced .route("));
        let call = &rest[..end];
        let path = call
            .split('"')
            .nth(1)
            .unwrap_or_else(|| panic!("{file}: a .route( without a literal path: {call}"));
        let mut methods = 0;
        for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
            for (i, _) in call.match_indices(&format!("{method}(")) {
                let before = call[..i].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                found.push((method.to_uppercase(), path.to_owned()));
                methods += 1;
            }
        }
        assert!(methods > 0, "{file}: no method found in .route({call})");
    }
    found
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `(METHOD, path)` pairs the routers register (the api's, the gateway's and `tidings
/// up`'s sources, including the health and OpenAPI routes every HTTP process merges in).
pub(crate) fn registered_routes() -> BTreeSet<(String, String)> {
    let services = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&services.join("api/src"), &mut files);
    rust_files(&services.join("gateway/src"), &mut files);
    rust_files(&services.join("tidings/src"), &mut files);
    let mut registered = BTreeSet::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        registered.extend(routes_in(&source, &file.display().to_string()));
    }
    registered
}

/// The walker below must know every route the routers register: a route added to the server
/// API, the gateway or `tidings up` without a line in `ROUTES` fails here.
#[test]
fn every_route_is_walked() {
    let registered = registered_routes();
    let walked: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(walked.len(), ROUTES.len(), "a route is listed twice");
    assert_eq!(
        registered, walked,
        "the routers' routes (left) and the walker's (right) differ"
    );
}

/// Where and how to send one probe.
struct Probe<'a> {
    route: &'a Route,
    method: &'a str,
    path_and_query: String,
    headers: Vec<(&'static str, HeaderValue)>,
    body: Option<Vec<u8>>,
    /// Sign (server API) or send the token (client), as the route wants; off to test auth.
    credentials: bool,
}

struct Walker<'a> {
    h: &'a Harness,
    admin: tidings_api::admin::AdminCredential,
    http: reqwest::Client,
    token: String,
    nonce: std::cell::Cell<u64>,
}

impl Walker<'_> {
    fn fill(route: &Route, bad: Option<(&str, &str)>) -> String {
        let mut path = route.path.to_owned();
        for (name, good, _) in route.params {
            let value = match bad {
                Some((param, value)) if param == *name => value,
                _ => good,
            };
            path = path.replace(&format!("{{{name}}}"), value);
        }
        path
    }

    fn probe<'r>(&self, route: &'r Route) -> Probe<'r> {
        Probe {
            route,
            method: route.method,
            path_and_query: Self::fill(route, None),
            headers: Vec::new(),
            body: route.body.map(|b| b.as_bytes().to_vec()),
            credentials: true,
        }
    }

    async fn send(&self, probe: Probe<'_>) -> (u16, HeaderMap, String) {
        let method = reqwest::Method::from_bytes(probe.method.as_bytes()).unwrap();
        let body = probe.body.unwrap_or_default();
        let mut headers = HeaderMap::new();
        if !body.is_empty() {
            headers.insert("content-type", HeaderValue::from_static("application/json"));
        }
        if probe.credentials && probe.route.auth != Auth::Open {
            if matches!(probe.route.auth, Auth::Signed | Auth::Admin) {
                let nonce = format!("walk-{}", self.nonce.get());
                self.nonce.set(self.nonce.get() + 1);
                let ts = now_secs();
                let (key, secret) = if probe.route.auth == Auth::Admin {
                    (&self.admin.key, &self.admin.secret)
                } else {
                    (&self.h.api.app_key, &self.h.api.app_secret)
                };
                let sig = signature(
                    secret,
                    probe.method,
                    &probe.path_and_query,
                    ts,
                    &nonce,
                    &body,
                );
                for (name, value) in [
                    ("x-app-key", key.clone()),
                    ("x-timestamp", ts.to_string()),
                    ("x-nonce", nonce),
                    ("x-signature", sig),
                ] {
                    headers.insert(name, value.parse().unwrap());
                }
            } else {
                let bearer = format!("Bearer {}", self.token);
                headers.insert("authorization", bearer.parse().unwrap());
            }
        }
        for (name, value) in probe.headers {
            headers.insert(HeaderName::from_static(name), value);
        }
        let url = format!("{}{}", self.h.base, probe.path_and_query);
        let response = self
            .http
            .request(method, &url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    /// Sends `probe` and checks it is refused with `status` and `code`, in the error shape.
    async fn expect(&self, what: &str, probe: Probe<'_>, status: u16, code: &str) {
        let label = format!(
            "{} {} {} ({what})",
            probe.method, probe.route.path, probe.path_and_query
        );
        let (got, headers, text) = self.send(probe).await;
        let content_type = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{label}: {got} answered non-JSON {text:?}"));
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{label}: {text}"
        );
        assert!(body["message"].is_string(), "{label}: {text}");
        assert_eq!(content_type.as_deref(), Some("application/json"), "{label}");
    }
}

/// Every route, walked with each kind of input that does not parse.
#[tokio::test]
async fn every_route_refuses_unparsable_input_with_the_error_shape() {
    let h = Harness::start().await;
    for user in ["bob", "nobody"] {
        assert_eq!(h.api.register(user).await.status, 200);
    }
    let token = h.api.user_token("alice").await;
    let walker = Walker {
        h: &h,
        admin: tidings::dev_app::admin_in(h.dir.path())
            .unwrap()
            .expect("tidings up wrote its admin credential"),
        http: tidings_runtime::outbound::client().build().unwrap(),
        token,
        nonce: std::cell::Cell::new(0),
    };
    let big = format!(
        r#"{{"pad":"{}"}}"#,
        "x".repeat(tidings_api::signature::MAX_BODY_BYTES * 2 + 1)
    );
    let unauthenticated = 401;

    for route in ROUTES {
        // Path parameters: undecodable (not UTF-8), and decodable but not a valid value.
        for (name, _, code) in route.params {
            let mut probe = walker.probe(route);
            probe.path_and_query = Walker::fill(route, Some((name, "%FF%FE")));
            walker
                .expect("path not UTF-8", probe, 400, "invalid_request")
                .await;
            let mut probe = walker.probe(route);
            probe.path_and_query = Walker::fill(route, Some((name, "bad%20id!")));
            let status = if *code == "not_found" { 404 } else { 400 };
            walker.expect("path invalid", probe, status, code).await;
        }

        // Query values that do not parse, and a repeated key (serde refuses duplicates).
        for query in route.bad_queries {
            let mut probe = walker.probe(route);
            probe.path_and_query += &format!("?{query}");
            walker.expect(query, probe, 400, "invalid_request").await;
        }
        if route.query {
            let mut probe = walker.probe(route);
            probe.path_and_query += "?token=a&token=b";
            walker
                .expect("repeated key", probe, 400, "invalid_request")
                .await;
        }

        // Headers: credentials that do not parse.
        if matches!(route.auth, Auth::Signed | Auth::Admin) {
            for (name, value, what) in [
                ("x-timestamp", HeaderValue::from_static("soon"), "timestamp"),
                ("x-signature", HeaderValue::from_static("zz"), "signature"),
                (
                    "x-app-key",
                    HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
                    "app key",
                ),
            ] {
                let mut probe = walker.probe(route);
                probe.headers.push((name, value));
                walker
                    .expect(what, probe, unauthenticated, "bad_signature")
                    .await;
            }
        } else if route.auth == Auth::Token {
            for value in [
                HeaderValue::from_static("Bearer not.a.token"),
                HeaderValue::from_static("Basic Zm9vOmJhcg=="),
                HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
            ] {
                let mut probe = walker.probe(route);
                probe.headers.push(("authorization", value));
                walker
                    .expect("authorization", probe, unauthenticated, "unauthorized")
                    .await;
            }
        }

        // Bodies: not JSON, not an object, fields of the wrong type, the wrong media type, and
        // too large.
        if let Some(good) = route.body {
            let mut bodies: Vec<(String, String)> = ["{not json", "[]", r#""x""#, "7", "null"]
                .iter()
                .map(|b| ((*b).to_owned(), (*b).to_owned()))
                .collect();
            let object: serde_json::Map<String, Value> = serde_json::from_str(good).unwrap();
            bodies.push((
                "the fields as an array".into(),
                Value::Array(object.values().cloned().collect()).to_string(),
            ));
            for (field, value) in &object {
                let mut wrong = vec![match value {
                    Value::Number(_) => json!("x"),
                    _ => json!(7),
                }];
                if let Value::Object(inner) = value {
                    wrong.push(Value::Array(inner.values().cloned().collect()));
                }
                for wrong in wrong {
                    let mut body = object.clone();
                    body.insert(field.clone(), wrong.clone());
                    bodies.push((format!("{field}: {wrong}"), Value::Object(body).to_string()));
                }
            }
            for (what, body) in bodies {
                let mut probe = walker.probe(route);
                probe.body = Some(body.into_bytes());
                walker.expect(&what, probe, 400, "invalid_request").await;
            }
            // The token route takes an empty body of any type, so only it skips this.
            if !route.path.ends_with("/token") {
                for content_type in [
                    HeaderValue::from_static("text/plain"),
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                ] {
                    let mut probe = walker.probe(route);
                    probe.headers.push(("content-type", content_type));
                    walker
                        .expect("media type", probe, 400, "invalid_request")
                        .await;
                }
            }
            let mut probe = walker.probe(route);
            probe.body = Some(big.clone().into_bytes());
            walker.expect("too large", probe, 413, "too_large").await;
        }

        // A method the path does not take.
        let taken: Vec<&str> = ROUTES
            .iter()
            .filter(|r| r.path == route.path)
            .map(|r| r.method)
            .collect();
        let other = ["PUT", "PATCH", "DELETE", "POST", "GET"]
            .into_iter()
            .find(|m| !taken.contains(m))
            .unwrap();
        let mut probe = walker.probe(route);
        probe.method = other;
        probe.body = None;
        walker
            .expect("wrong method", probe, 405, "invalid_request")
            .await;
    }

    // The WebSocket route refuses a request that is not a handshake, after authentication.
    let ws = ROUTES.iter().find(|r| r.path == "/v1/ws").unwrap();
    walker
        .expect("plain GET", walker.probe(ws), 400, "invalid_request")
        .await;
    let mut probe = walker.probe(ws);
    for (name, value) in [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "8"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ] {
        probe.headers.push((name, HeaderValue::from_static(value)));
    }
    walker
        .expect("old version", probe, 400, "invalid_request")
        .await;

    // Paths no router has.
    for (method, path) in [
        ("GET", "/v1/nothing"),
        ("POST", "/v1/users/alice/token/extra"),
        ("GET", "/"),
        ("DELETE", "/v2/inbox"),
    ] {
        let mut probe = walker.probe(ws);
        probe.method = method;
        probe.path_and_query = path.into();
        walker
            .expect("unknown route", probe, 404, "not_found")
            .await;
    }

    // Nothing above broke the server.
    let r = h.api.get_as(&walker.token, "/v1/inbox").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// Opens a connection from `source` (a loopback address) to the server.
async fn connect_from(h: &Harness, source: &str) -> TcpStream {
    let addr: std::net::SocketAddr = h.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads until the server closes; returns what it sent (a reset also counts as closed).
async fn until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend(&buf[..n]),
            }
        }
    });
    read.await.expect("the server closes the connection");
    received
}

/// `GET /healthz` on a fresh connection from `source`: the status line's code, or `None` when
/// the connection is refused or closed without one.
async fn healthz_from(h: &Harness, source: &str) -> Option<u16> {
    let mut tcp = connect_from(h, source).await;
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .ok()?;
    let answer = until_closed(&mut tcp).await;
    String::from_utf8_lossy(&answer)
        .strip_prefix("HTTP/1.1 ")?
        .get(..3)?
        .parse()
        .ok()
}

/// Connections that never finish a request head (nothing sent, half a head, or an idle
/// keep-alive after an answer) are closed once the header-read timeout passes.
#[tokio::test]
async fn unfinished_requests_are_closed_after_the_header_read_timeout() {
    let h = Harness::start_on(
        tidings_testkit::TestNats::start(),
        tempfile::tempdir().unwrap(),
        |c| c.http.header_read_timeout_ms = 300,
    )
    .await;
    let opened = tokio::time::Instant::now();
    let mut sockets = Vec::new();
    for i in 0..30 {
        let mut tcp = connect_from(&h, "127.0.0.1").await;
        match i % 3 {
            0 => {}
            1 => tcp
                .write_all(b"GET /v1/ws?token=x HTTP/1.1\r\nHost: t\r\nUpgrade: webs")
                .await
                .unwrap(),
            _ => {
                tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                    .await
                    .unwrap();
            }
        }
        sockets.push((i, tcp));
    }
    for (i, mut tcp) in sockets {
        let answer = until_closed(&mut tcp).await;
        if i % 3 == 2 {
            assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
        } else {
            assert!(
                answer.is_empty(),
                "{i}: {:?}",
                String::from_utf8_lossy(&answer)
            );
        }
    }
    assert!(
        opened.elapsed() >= Duration::from_millis(300),
        "closed before the timeout"
    );
    assert_eq!(healthz_from(&h, "127.0.0.1").await, Some(200));
}

/// A source holding its bound of unfinished requests is refused (`429 rate_limited`) while
/// other sources are still served, and is served again once one of them ends; over the overall
/// bound every source gets `503 unavailable`.
#[tokio::test]
async fn a_source_over_its_bound_of_unfinished_requests_is_refused_and_others_are_not() {
    let h = Harness::start_on(
        tidings_testkit::TestNats::start(),
        tempfile::tempdir().unwrap(),
        |c| {
            c.http.max_unfinished_per_ip = 4;
            c.http.max_unfinished = 6;
        },
    )
    .await;
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut tcp = connect_from(&h, "127.0.0.1").await;
        tcp.write_all(b"GET /v1/inbox HTTP/1.1\r\n").await.unwrap();
        slow.push(tcp);
    }
    // Accepted in order, so the next connection from 127.0.0.1 is over the bound.
    let mut refused = connect_from(&h, "127.0.0.1").await;
    let answer = String::from_utf8(until_closed(&mut refused).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["code"], "rate_limited", "{answer}");
    assert!(body["message"].is_string());

    // Another source is served.
    assert_eq!(healthz_from(&h, "127.0.0.2").await, Some(200));

    // Over the overall bound (4 + 2 unfinished), every source is refused with 503.
    let mut others = Vec::new();
    for _ in 0..2 {
        others.push(connect_from(&h, "127.0.0.3").await);
    }
    let mut refused = connect_from(&h, "127.0.0.4").await;
    let answer = String::from_utf8(until_closed(&mut refused).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""code":"unavailable""#), "{answer}");

    // Once the slow requests end, their source is served again.
    drop(others);
    slow.clear();
    eventually("127.0.0.1 is served again", || async {
        healthz_from(&h, "127.0.0.1").await == Some(200)
    })
    .await;
}

/// A request head the HTTP parser cannot read is answered by it (`400`, `431`) and closed,
/// with the protocol's JSON body like every other refusal.
#[tokio::test]
async fn unparsable_request_heads_are_answered_with_the_error_shape() {
    let h = Harness::start().await;
    let many_headers: String = (0..120).map(|i| format!("x-h{i}: v\r\n")).collect();
    for (head, status, code) in [
        (
            "G\0T /healthz HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
            400,
            "invalid_request",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nHost: t\r\n{many_headers}\r\n"),
            431,
            "too_large",
        ),
    ] {
        let mut tcp = connect_from(&h, "127.0.0.1").await;
        tcp.write_all(head.as_bytes()).await.unwrap();
        let answer = String::from_utf8(until_closed(&mut tcp).await).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").expect("a complete answer");
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{answer}");
        assert!(
            head.to_lowercase()
                .contains("content-type: application/json"),
            "{answer}"
        );
        let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{answer}"));
        assert_eq!(body["code"], code, "{answer}");
        assert!(body["message"].is_string(), "{answer}");
    }
    // The server still serves.
    assert_eq!(healthz_from(&h, "127.0.0.1").await, Some(200));
}
