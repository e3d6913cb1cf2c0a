//! `tidings up`'s web client at `/app` and the development sign-in `POST /v1/dev/token`; and
//! neither exists on the production services (`tidings api`, `tidings gateway`).

use crate::harness::Harness;
use crate::supervision::standalone;
use serde_json::json;
use tidings_testkit::TestNats;

async fn get(url: &str) -> reqwest::Response {
    tidings_runtime::outbound::client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap()
}

/// `POST /v1/dev/token` with `body`, no credentials: the status and the JSON answer.
async fn sign_in(base: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = tidings_runtime::outbound::client()
        .build()
        .unwrap()
        .post(format!("{base}/v1/dev/token"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn up_serves_the_web_client_and_signs_development_users_in() {
    let h = Harness::start().await;
    let redirect = get(&format!("{}/app", h.base)).await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/app/");
    for (path, mime, holds) in [
        ("/app/", "text/html; charset=utf-8", "/app/app.js"),
        (
            "/app/app.js",
            "text/javascript; charset=utf-8",
            "/v1/dev/token",
        ),
        ("/app/app.css", "text/css; charset=utf-8", ".shell"),
    ] {
        let response = get(&format!("{}{path}", h.base)).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], mime, "{path}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert!(response.text().await.unwrap().contains(holds), "{path}");
    }
    let missing = get(&format!("{}/app/secret.toml", h.base)).await;
    assert_eq!(missing.status(), 404);

    // A new user is registered with the given name; the token works on the client routes.
    let (status, signed) = sign_in(&h.base, json!({"user_id": "dana", "name": "Dana"})).await;
    assert_eq!(status, 200, "{signed:?}");
    assert_eq!(signed["user_id"], "dana");
    let token = signed["token"].as_str().unwrap().to_owned();
    let pos = signed["pos"].as_u64().unwrap();
    let profile = h
        .api
        .get_as(&token, &format!("/v1/users/dana?min_pos={pos}"))
        .await;
    assert_eq!(profile.status, 200, "{:?}", profile.body);
    assert_eq!(profile.body["name"], "Dana");
    // Signing in again without a name keeps it.
    let (status, again) = sign_in(&h.base, json!({"user_id": "dana"})).await;
    assert_eq!((status, &again["pos"]), (200, &json!(0)));
    let (status, bad) = sign_in(&h.base, json!({"user_id": "no such id!"})).await;
    assert_eq!((status, &bad["code"]), (400, &json!("invalid_id")));
}

#[tokio::test]
async fn production_services_have_neither_the_web_client_nor_dev_tokens() {
    let nats = TestNats::start();
    let dir = tempfile::tempdir().unwrap();
    for service in ["api", "gateway"] {
        let up = standalone(service, &nats, dir.path(), "10000");
        let (status, answer) = sign_in(&up.base, json!({"user_id": "dana"})).await;
        assert_eq!(
            (status, &answer["code"]),
            (404, &json!("not_found")),
            "{service}"
        );
        assert_eq!(
            get(&format!("{}/app/", up.base)).await.status(),
            404,
            "{service}"
        );
    }
}
