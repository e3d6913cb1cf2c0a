//! The server API's operations by name: what an integrator request on
//! `tid.in.<app>.<operation>` calls. Each is one signed route (`POST`, or `GET` for reads); the
//! route's path parameters travel as fields of the JSON body, of the same names, and are taken
//! out of it before the route sees the body, which is otherwise the route's own (a `GET` route
//! gets none).

use crate::error::{ApiError, ErrorCode};
use serde_json::{Map, Value};

/// One server-API operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The last tokens of the request subject (`users.upsert`).
    pub name: &'static str,
    /// The route's method: `POST`, or `GET` for the reads.
    pub method: &'static str,
    /// The route it calls; `{param}`s come from the body.
    pub path: &'static str,
}

const fn op(name: &'static str, path: &'static str) -> Operation {
    Operation {
        name,
        method: "POST",
        path,
    }
}

const fn read(name: &'static str, path: &'static str) -> Operation {
    Operation {
        name,
        method: "GET",
        path,
    }
}

/// Every operation of the server API. A route added to `http::routes` is added here too (a
/// test compares the two).
pub const OPERATIONS: &[Operation] = &[
    op("users.upsert", "/v1/users"),
    op("users.token", "/v1/users/{user_id}/token"),
    op("users.deactivate", "/v1/users/{user_id}/deactivate"),
    op("users.revoke_tokens", "/v1/users/{user_id}/tokens/revoke"),
    op(
        "users.sign_out_device",
        "/v1/users/{user_id}/devices/{device}/sign-out",
    ),
    op("messages.send", "/v1/messages"),
    op("system.send", "/v1/system/messages"),
    op("relations.friend", "/v1/relations/friend"),
    op("relations.unfriend", "/v1/relations/unfriend"),
    op("relations.block", "/v1/relations/block"),
    op("relations.unblock", "/v1/relations/unblock"),
    op("groups.op", "/v1/server/groups/{group_id}/ops"),
    op("conversations.hide", "/v1/server/conversations/{conv}/hide"),
    op(
        "conversations.clear",
        "/v1/server/conversations/{conv}/clear",
    ),
    op(
        "conversations.settings",
        "/v1/server/conversations/{conv}/settings",
    ),
    op(
        "conversations.react",
        "/v1/server/conversations/{conv}/reactions",
    ),
    op("conversations.pin", "/v1/server/conversations/{conv}/pins"),
    op(
        "messages.recall",
        "/v1/server/conversations/{conv}/messages/{msg_id}/recall",
    ),
    op(
        "messages.edit",
        "/v1/server/conversations/{conv}/messages/{msg_id}/edit",
    ),
    op("services.open", "/v1/server/services/{service}"),
    op(
        "services.attach",
        "/v1/server/services/{service}/agents/{agent}",
    ),
    op(
        "services.detach",
        "/v1/server/services/{service}/agents/{agent}/detach",
    ),
    op(
        "services.availability",
        "/v1/server/services/{service}/agents/{agent}/availability",
    ),
    op("users.set_tags", "/v1/users/{user_id}/tags"),
    read("users.tags", "/v1/users/{user_id}/tags"),
    op("broadcasts.send", "/v1/broadcasts"),
    read("words.lists", "/v1/words"),
    read("words.get", "/v1/words/{list}"),
    op("words.change", "/v1/words/{list}"),
];

/// The operation of that name.
pub fn find(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == name)
}

/// Every operation's name, for error messages and documentation.
pub fn names() -> Vec<&'static str> {
    OPERATIONS.iter().map(|o| o.name).collect()
}

impl Operation {
    /// The path parameters of the route, in order.
    pub fn params(&self) -> impl Iterator<Item = &'static str> {
        let path: &'static str = self.path;
        path.split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
    }

    /// The route's path and body for a request `body` (a JSON object, or empty): each path
    /// parameter is taken out of the body (a string field of its name) and percent-encoded into
    /// the path; the rest of the body is the route's.
    pub fn request(&self, body: &[u8]) -> Result<(String, Vec<u8>), ApiError> {
        let mut params: Vec<&str> = self.params().collect();
        if params.is_empty() {
            return Ok((self.path.to_owned(), body.to_vec()));
        }
        let mut object: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            crate::json::json_object(body)?
        };
        let mut path = self.path.to_owned();
        for name in params.drain(..) {
            let value = match object.remove(name) {
                Some(Value::String(value)) => value,
                Some(_) => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidRequest,
                        format!("{name} must be a string"),
                    ));
                }
                None => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidRequest,
                        format!("missing field `{name}`"),
                    ));
                }
            };
            path = path.replace(&format!("{{{name}}}"), &percent_encode(&value));
        }
        let body = serde_json::to_vec(&Value::Object(object)).expect("a JSON map encodes");
        Ok((path, body))
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_params_come_from_the_body() {
        let mut names = names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OPERATIONS.len());
        let recall = find("messages.recall").unwrap();
        assert_eq!(recall.params().collect::<Vec<_>>(), ["conv", "msg_id"]);
        let (path, body) = recall
            .request(br#"{"conv":"d~a~b","msg_id":"m 1","actor":"a"}"#)
            .unwrap();
        assert_eq!(path, "/v1/server/conversations/d~a~b/messages/m%201/recall");
        assert_eq!(body, br#"{"actor":"a"}"#);
        let missing = find("users.token").unwrap().request(b"").unwrap_err();
        assert_eq!(missing.code, ErrorCode::InvalidRequest);
        let (path, body) = find("users.upsert").unwrap().request(b"{}").unwrap();
        assert_eq!((path.as_str(), body.as_slice()), ("/v1/users", &b"{}"[..]));
    }
}
