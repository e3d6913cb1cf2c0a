//! The OpenAPI document (`docs/openapi.json`, served at `/v1/openapi.json`) describes exactly
//! the routes the routers register, with the same methods; `scripts/schemathesis` checks the
//! answers of a live server against it.

use crate::edge::registered_routes;
use crate::harness::Harness;
use serde_json::Value;
use std::collections::BTreeSet;

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

/// The `(METHOD, path)` pairs the document describes.
fn described(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"]
        .as_object()
        .expect("docs/openapi.json has paths");
    let mut found = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for key in item.keys() {
            if METHODS.contains(&key.as_str()) {
                found.insert((key.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

/// What differs between the routes the document describes and those the routers register,
/// one line per route, saying what to do.
fn differences(
    described: &BTreeSet<(String, String)>,
    registered: &BTreeSet<(String, String)>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (method, path) in registered.difference(described) {
        problems.push(format!(
            "{method} {path} is routed but not in docs/openapi.json: add paths.\"{path}\".{}",
            method.to_lowercase()
        ));
    }
    for (method, path) in described.difference(registered) {
        problems.push(format!(
            "{method} {path} is in docs/openapi.json but no router has it: remove it or route it"
        ));
    }
    problems
}

#[test]
fn the_document_describes_every_route_and_no_other() {
    let document: Value =
        serde_json::from_str(tidings_api::openapi::DOCUMENT).expect("docs/openapi.json is JSON");
    assert_eq!(document["openapi"], "3.1.0");
    let problems = differences(&described(&document), &registered_routes());
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn a_difference_names_the_route_and_the_side_it_is_missing_on() {
    let route = |m: &str, p: &str| (m.to_owned(), p.to_owned());
    let described = BTreeSet::from([route("GET", "/v1/a"), route("POST", "/v1/b")]);
    let registered = BTreeSet::from([route("GET", "/v1/a"), route("DELETE", "/v1/c")]);
    assert_eq!(
        differences(&described, &registered),
        [
            "DELETE /v1/c is routed but not in docs/openapi.json: add paths.\"/v1/c\".delete",
            "POST /v1/b is in docs/openapi.json but no router has it: remove it or route it",
        ]
    );
}

/// Every operation documents its answers (a success, a redirect such as `/app`'s, or the
/// WebSocket's 101), and every `$ref` points at something that exists.
#[test]
fn every_operation_has_answers_and_every_reference_resolves() {
    let document: Value = serde_json::from_str(tidings_api::openapi::DOCUMENT).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let answers = operation["responses"].as_object();
            assert!(
                answers.is_some_and(|a| a
                    .keys()
                    .any(|s| s.starts_with('2') || s.starts_with('3') || s == "101")),
                "{method} {path}: no success (or redirect) answer documented"
            );
            assert!(
                operation["operationId"].is_string(),
                "{method} {path}: no operationId"
            );
        }
    }
    let mut stack = vec![&document];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    let pointer = target
                        .strip_prefix('#')
                        .unwrap_or_else(|| panic!("{target}: only local references"));
                    assert!(
                        document.pointer(pointer).is_some(),
                        "{target} does not resolve"
                    );
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
}

#[tokio::test]
async fn the_document_is_served() {
    let h = Harness::start().await;
    let response = tidings_runtime::outbound::client()
        .build()
        .unwrap()
        .get(format!("{}/v1/openapi.json", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(
        response.text().await.unwrap(),
        tidings_api::openapi::DOCUMENT
    );
}
