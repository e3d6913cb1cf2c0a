//! Every JSON request body, through the `JsonBody` extractor the routes use. Input: one letter
//! naming the body type (`a`: server API user upsert ... `k`: client group op, see `BODIES`),
//! then the body. The extractor never panics; it accepts exactly what serde_json reads into the
//! type from a JSON object, with the same value, and refuses everything else (any body that is
//! not an object) as a 400 `invalid_request`, or `invalid_id` exactly when an id failed
//! validation.
#![no_main]

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use tidings_api::error::ErrorCode;
use tidings_api::json::JsonBody;
use tidings_fuzz::{is_bad_input, ready};

/// The body types, in the order of their selector letters from `a`.
const BODIES: [fn(&[u8]); 11] = [
    check::<tidings_api::commands::UpsertUserRequest>,
    check::<tidings_api::http::ServerSendRequest>,
    check::<tidings_api::http::RelateRequest>,
    check::<tidings_api::http::ServerGroupOp>,
    check::<tidings_api::http::SystemRequest>,
    check::<tidings_gateway::groups::CreateGroup>,
    check::<tidings_gateway::profiles::BatchRequest>,
    check::<tidings_gateway::relations::FriendRequestBody>,
    check::<tidings_gateway::relations::BlockBody>,
    check::<tidings_gateway::rest::ReadBody>,
    check::<tidings_api::group_ops::GroupOp>,
];

fn check<T: DeserializeOwned + Debug>(body: &[u8]) {
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a valid request");
    let extracted = ready(JsonBody::<T>::from_request(request, &()));
    // serde would also read a struct from an array; the protocol's bodies are objects.
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let direct = if object {
        serde_json::from_slice::<T>(body).map_err(Some)
    } else {
        Err(None)
    };
    match (extracted, direct) {
        (Ok(JsonBody(got)), Ok(want)) => assert_eq!(format!("{got:?}"), format!("{want:?}")),
        (Err(e), Err(serde)) => {
            assert!(is_bad_input(e.code), "{e:?}");
            let invalid_id = serde
                .as_ref()
                .is_some_and(|s| s.to_string().starts_with("invalid id for "));
            assert_eq!(
                e.code == ErrorCode::InvalidId,
                invalid_id,
                "{e:?} / {serde:?}"
            );
            assert_eq!(e.into_response().status(), StatusCode::BAD_REQUEST);
        }
        (got, want) => panic!(
            "the extractor gave {:?}, serde_json {:?}",
            got.map(|b| b.0),
            want
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    BODIES[usize::from(selector.wrapping_sub(b'a')) % BODIES.len()](body);
});
