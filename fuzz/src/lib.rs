//! Oracles shared by the fuzz targets under `fuzz_targets/`: what a decoded client frame must
//! satisfy, and a way to finish an extractor over an in-memory body without a runtime.

use serde_json::Value;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use tidings_api::error::ErrorCode;
use tidings_gateway::frames::{BadFrame, ClientFrame};

/// Runs a future that never waits (an extractor reading an in-memory body) to its end.
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an in-memory body never waits"),
    }
}

/// Whether `code` is one a malformed client input may be answered with (a 400).
pub fn is_bad_input(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::InvalidRequest | ErrorCode::InvalidId)
}

/// Checks one client frame decode against the value its bytes hold (`None`: no value at all):
/// a frame is only ever read from a value, a refusal is `invalid_request` or `invalid_id`, and
/// both name the request `id` exactly as the value gives it.
pub fn check_frame(outcome: &Result<ClientFrame, BadFrame>, value: Option<&Value>) {
    let given_id = value.and_then(|v| v.get("id")).and_then(Value::as_str);
    match outcome {
        Ok(frame) => {
            assert!(
                value.is_some(),
                "a frame was read from bytes that hold no value"
            );
            if let Some(id) = frame.id() {
                assert_eq!(Some(id.as_str()), given_id, "{frame:?}");
            }
        }
        Err(bad) => {
            assert!(is_bad_input(bad.error.code), "{:?}", bad.error);
            assert_eq!(bad.id.as_deref(), given_id, "{:?}", bad.error);
        }
    }
}

/// Asserts that two decodes of the same value agree: the same frame, or a refusal with the
/// same code for the same request id.
pub fn assert_same_outcome(a: &Result<ClientFrame, BadFrame>, b: &Result<ClientFrame, BadFrame>) {
    match (a, b) {
        (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (Err(a), Err(b)) => assert_eq!(
            (&a.id, a.error.code),
            (&b.id, b.error.code),
            "{} / {}",
            a.error.message,
            b.error.message
        ),
        (a, b) => panic!("the two encodings disagree: {a:?} / {b:?}"),
    }
}
