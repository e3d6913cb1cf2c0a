//! WebSocket frames, both directions, and their JSON / MessagePack encodings.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tidings_api::commands::{
    Edited, ForwardRequest, GroupView, PinState, Reacted, Recalled, RelationView, Sent,
    SettingsRequest,
};
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::group_ops::GroupOp;
use tidings_api::json::rejection_error;
use tidings_domain::event::ConvSettings;
use tidings_domain::login::Platform;
use tidings_domain::{Body, ClientMsgId, ConvId, GroupId, MessageId, Recipient, UserId};
use tidings_store::{BroadcastRow, Entry};

use crate::typing::TypingState;

/// Frames a client sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ClientFrame {
    Hello {
        #[serde(default)]
        since: u64,
        #[serde(default)]
        device: Option<String>,
        /// What the device is (`ios`, `android`, `web`, `desktop`, `other`; default `other`),
        /// for the `one_per_platform` login policy.
        #[serde(default)]
        platform: Platform,
        /// Answer `welcome` only once the read models cover this events-stream position (a
        /// write's `pos`), so the catch-up reflects that write.
        #[serde(default)]
        min_pos: u64,
        /// The app's last broadcast `bseq` the client has: broadcasts after it are sent
        /// before `synced`. Absent: live broadcasts only, from the newest.
        #[serde(default)]
        broadcasts_since: Option<u64>,
    },
    Send {
        #[serde(default)]
        id: Option<String>,
        to: Recipient,
        client_msg_id: ClientMsgId,
        #[serde(default)]
        body: Option<Body>,
        #[serde(default)]
        mentions: Vec<UserId>,
        #[serde(default)]
        mention_all: bool,
        #[serde(default)]
        reply_to: Option<MessageId>,
        #[serde(default)]
        forward_of: Option<ForwardRequest>,
    },
    Sync {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        after: u64,
        #[serde(default)]
        limit: Option<usize>,
        /// As `hello`'s: the page reflects the write at this position.
        #[serde(default)]
        min_pos: u64,
    },
    Ack {
        seq: u64,
    },
    Read {
        conv: ConvId,
        conv_seq: u64,
    },
    /// Delete for me: hide one message from the user's own view, on all their devices.
    Hide {
        #[serde(default)]
        id: Option<String>,
        conv: ConvId,
        conv_seq: u64,
    },
    /// Clear for me: remove a conversation from the user's own view up to `up_to` (the newest
    /// message when absent).
    Clear {
        #[serde(default)]
        id: Option<String>,
        conv: ConvId,
        #[serde(default)]
        up_to: Option<u64>,
    },
    Ping,
    /// Change the user's settings for a conversation, on all their devices.
    Settings {
        #[serde(default)]
        id: Option<String>,
        conv: ConvId,
        #[serde(flatten)]
        request: SettingsRequest,
    },
    /// The sender is typing (or paused) in `conv`: relayed to the other members online now.
    Typing {
        conv: ConvId,
        state: TypingState,
    },
    /// Watch these users' presence: one `presence` frame each now, then one per change.
    PresenceSubscribe {
        #[serde(default)]
        id: Option<String>,
        /// Empty or absent: the caller's friends, when the app enables that.
        #[serde(default)]
        users: Vec<UserId>,
    },
    FriendRequest {
        #[serde(default)]
        id: Option<String>,
        to: UserId,
        #[serde(default)]
        note: Option<String>,
    },
    FriendAccept {
        #[serde(default)]
        id: Option<String>,
        user: UserId,
    },
    FriendReject {
        #[serde(default)]
        id: Option<String>,
        user: UserId,
    },
    FriendCancel {
        #[serde(default)]
        id: Option<String>,
        user: UserId,
    },
    FriendRemove {
        #[serde(default)]
        id: Option<String>,
        user: UserId,
    },
    Block {
        #[serde(default)]
        id: Option<String>,
        user: UserId,
    },
    Unblock {
        #[serde(default)]
        id: Option<String>,
        user: UserId,
    },
    Group {
        #[serde(default)]
        id: Option<String>,
        group: GroupId,
        #[serde(flatten)]
        op: GroupOp,
    },
    /// Add a reaction `key` to a message.
    React {
        #[serde(default)]
        id: Option<String>,
        conv: ConvId,
        msg_id: MessageId,
        key: String,
    },
    /// Remove one's reaction `key` from a message.
    Unreact {
        #[serde(default)]
        id: Option<String>,
        conv: ConvId,
        msg_id: MessageId,
        key: String,
    },
    /// Pin a message to its conversation.
    Pin {
        #[serde(default)]
        id: Option<String>,
        conv: ConvId,
        msg_id: MessageId,
    },
    /// Unpin a message.
    Unpin {
        #[serde(default)]
        id: Option<String>,
        conv: ConvId,
        msg_id: MessageId,
    },
    /// Recall a message (answered with `recalled`).
    Recall {
        #[serde(default)]
        id: Option<String>,
        conv: ConvId,
        msg_id: MessageId,
    },
    /// Edit a text message of one's own (answered with `edited`).
    Edit {
        #[serde(default)]
        id: Option<String>,
        conv: ConvId,
        msg_id: MessageId,
        body: Body,
        #[serde(default)]
        expected_edit_seq: Option<u64>,
    },
}

impl ClientFrame {
    /// The request id, for frames that carry one.
    pub fn id(&self) -> Option<String> {
        match self {
            ClientFrame::Send { id, .. }
            | ClientFrame::Sync { id, .. }
            | ClientFrame::FriendRequest { id, .. }
            | ClientFrame::FriendAccept { id, .. }
            | ClientFrame::FriendReject { id, .. }
            | ClientFrame::FriendCancel { id, .. }
            | ClientFrame::FriendRemove { id, .. }
            | ClientFrame::Block { id, .. }
            | ClientFrame::Unblock { id, .. }
            | ClientFrame::Hide { id, .. }
            | ClientFrame::Clear { id, .. }
            | ClientFrame::Settings { id, .. }
            | ClientFrame::Group { id, .. }
            | ClientFrame::React { id, .. }
            | ClientFrame::Unreact { id, .. }
            | ClientFrame::Pin { id, .. }
            | ClientFrame::Unpin { id, .. }
            | ClientFrame::Recall { id, .. }
            | ClientFrame::Edit { id, .. }
            | ClientFrame::PresenceSubscribe { id, .. } => id.clone(),
            ClientFrame::Hello { .. }
            | ClientFrame::Ack { .. }
            | ClientFrame::Typing { .. }
            | ClientFrame::Read { .. }
            | ClientFrame::Ping => None,
        }
    }
}

/// Every client frame type the gateway accepts (an unknown one is refused by name);
/// `schemas/frames/client.schema.json` must name each (tests/e2e/frames.rs).
pub const CLIENT_FRAME_TYPES: [&str; 25] = [
    "hello",
    "presence_subscribe",
    "typing",
    "send",
    "sync",
    "ack",
    "read",
    "hide",
    "clear",
    "settings",
    "ping",
    "friend_request",
    "friend_accept",
    "friend_reject",
    "friend_cancel",
    "friend_remove",
    "block",
    "unblock",
    "group",
    "react",
    "unreact",
    "pin",
    "unpin",
    "recall",
    "edit",
];

/// Frames the server sends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Another member is typing in `conv`; over after `expires_in` seconds without a refresh.
    Typing {
        conv: ConvId,
        user: UserId,
        state: TypingState,
        expires_in: u64,
    },
    /// A watched user's presence, at `presence_subscribe` and on each change.
    Presence {
        user: UserId,
        online: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_seen: Option<i64>,
    },
    Welcome {
        user_id: UserId,
        last_seq: u64,
        server_time: i64,
    },
    Entry(Entry),
    Synced {
        seq: u64,
        /// The app's last broadcast `bseq` handled: keep it as the next `broadcasts_since`.
        #[serde(skip_serializing_if = "Option::is_none")]
        bseq: Option<u64>,
    },
    /// A broadcast to every user of the app, or to a tag this user holds (live, and at
    /// catch-up when `hello` names `broadcasts_since`).
    Broadcast(BroadcastRow),
    /// Sent just before the close of a session a newer login replaced (close code 4409).
    Kicked {
        reason: String,
    },
    Sent {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(flatten)]
        sent: Sent,
    },
    /// The answer to `sync`: one page of the inbox (entries of messages the user removed
    /// read back as `removed` placeholders).
    Page {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        entries: Vec<Entry>,
        last_seq: u64,
    },
    /// The answer to `hide`.
    Hidden {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        conv: ConvId,
        conv_seq: u64,
        pos: u64,
    },
    /// The answer to `clear`: the user's clear mark as it now is.
    Cleared {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        conv: ConvId,
        up_to: u64,
        pos: u64,
    },
    /// The answer to a `group` frame: the group as the caller now sees it.
    Group {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        group: GroupView,
        pos: u64,
    },
    /// The answer to `recall`: the recall as recorded.
    Recalled {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(flatten)]
        recalled: Recalled,
    },
    /// The answer to `edit`: the message's new `edit_seq`.
    Edited {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(flatten)]
        edited: Edited,
    },
    /// The answer to a relationship frame: the relationship as it now is.
    Relation {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        relation: RelationView,
        pos: u64,
    },
    /// The answer to `react` / `unreact`: the request is recorded.
    Reacted {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(flatten)]
        reacted: Reacted,
        pos: u64,
    },
    /// The answer to `settings`: all the user's settings for the conversation as they now are.
    SettingsSet {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        conv: ConvId,
        #[serde(flatten)]
        settings: ConvSettings,
        pos: u64,
    },
    /// The answer to `pin` / `unpin`: whether the message is pinned now.
    PinSet {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(flatten)]
        pin: PinState,
        pos: u64,
    },
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        code: ErrorCode,
        message: String,
        /// `rejected`: the code the app's hook or word list gave.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// `rate_limited` by a per-user limit: when to try again, in milliseconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
    Pong,
}

impl ServerFrame {
    /// An error answer to the request `id`.
    pub fn error(id: Option<String>, error: ApiError) -> Self {
        ServerFrame::Error {
            id,
            code: error.code,
            message: error.message,
            reason: error.reason,
            retry_after_ms: error.retry_after_ms,
        }
    }
}

/// The encoding a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    MessagePack,
}

/// A frame ready for the socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoded {
    Text(String),
    Binary(Vec<u8>),
}

impl Format {
    /// Encodes a server frame.
    pub fn encode(self, frame: &ServerFrame) -> Encoded {
        match self {
            Format::Json => Encoded::Text(serde_json::to_string(frame).expect("frames encode")),
            Format::MessagePack => {
                Encoded::Binary(rmp_serde::to_vec_named(frame).expect("frames encode"))
            }
        }
    }
}

/// A client frame that could not be read, with the request id when one was readable.
#[derive(Debug)]
pub struct BadFrame {
    pub id: Option<String>,
    pub error: ApiError,
}

fn from_value(value: Value) -> Result<ClientFrame, BadFrame> {
    let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
    let Some(t) = value.get("t").and_then(Value::as_str) else {
        return Err(BadFrame {
            id,
            error: ApiError::new(ErrorCode::InvalidRequest, "frame has no \"t\""),
        });
    };
    if !CLIENT_FRAME_TYPES.contains(&t) {
        let message = format!("unknown frame type {t:?}");
        return Err(BadFrame {
            id,
            error: ApiError::new(ErrorCode::InvalidRequest, message),
        });
    }
    serde_json::from_value(value).map_err(|e| BadFrame {
        id,
        error: rejection_error(&e.to_string()),
    })
}

/// Reads a text (JSON) frame.
pub fn decode_text(text: &str) -> Result<ClientFrame, BadFrame> {
    let value: Value = serde_json::from_str(text).map_err(|e| BadFrame {
        id: None,
        error: ApiError::new(ErrorCode::InvalidRequest, format!("malformed JSON: {e}")),
    })?;
    from_value(value)
}

/// Reads a binary (MessagePack) frame.
pub fn decode_binary(bytes: &[u8]) -> Result<ClientFrame, BadFrame> {
    let value: Value = rmp_serde::from_slice(bytes).map_err(|e| BadFrame {
        id: None,
        error: ApiError::new(
            ErrorCode::InvalidRequest,
            format!("malformed MessagePack: {e}"),
        ),
    })?;
    from_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_parse() {
        assert!(matches!(
            decode_text(r#"{"t":"hello","since":5}"#).unwrap(),
            ClientFrame::Hello {
                since: 5,
                device: None,
                platform: Platform::Other,
                min_pos: 0,
                broadcasts_since: None
            }
        ));
        assert!(matches!(
            decode_text(r#"{"t":"hello","since":5,"broadcasts_since":3}"#).unwrap(),
            ClientFrame::Hello {
                broadcasts_since: Some(3),
                ..
            }
        ));
        let send = decode_text(
            r#"{"t":"send","id":"1","to":{"user":"bob"},"client_msg_id":"c1","body":{"type":"text","text":"hi"}}"#,
        )
        .unwrap();
        assert!(matches!(send, ClientFrame::Send { id: Some(ref i), .. } if i == "1"));
        assert!(matches!(
            decode_text(r#"{"t":"ping","extra":1}"#).unwrap(),
            ClientFrame::Ping
        ));
    }

    #[test]
    fn removal_frames_parse() {
        assert!(matches!(
            decode_text(r#"{"t":"hide","id":"h","conv":"d~a~b","conv_seq":3}"#).unwrap(),
            ClientFrame::Hide {
                id: Some(_),
                conv_seq: 3,
                ..
            }
        ));
        assert!(matches!(
            decode_text(r#"{"t":"clear","conv":"g~team"}"#).unwrap(),
            ClientFrame::Clear { up_to: None, .. }
        ));
        let e = decode_text(r#"{"t":"hide","id":"h","conv":"d~a~b","conv_seq":-1}"#).unwrap_err();
        assert_eq!(
            (e.id.as_deref(), e.error.code),
            (Some("h"), ErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn bad_frames_name_the_problem() {
        let e = decode_text("{nope").unwrap_err();
        assert_eq!(e.error.code, ErrorCode::InvalidRequest);
        // A frame is an object: serde would read a tagged enum from this sequence form (found
        // by fuzz/ when text frames were deserialized into their type directly).
        let e = decode_text(r#"["ack",101]"#).unwrap_err();
        assert_eq!(e.error.code, ErrorCode::InvalidRequest);
        let e = decode_text(r#"{"t":"teleport","id":"7"}"#).unwrap_err();
        assert_eq!(
            (e.id.as_deref(), e.error.code),
            (Some("7"), ErrorCode::InvalidRequest)
        );
        let e = decode_text(
            r#"{"t":"send","id":"2","to":{"user":"b b"},"client_msg_id":"c","body":{"type":"text","text":"x"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            (e.id.as_deref(), e.error.code),
            (Some("2"), ErrorCode::InvalidId)
        );
    }

    #[test]
    fn client_text_in_an_error_does_not_make_it_invalid_id() {
        // Found by fuzz/: serde quotes the unknown variant, which used to decide the code.
        let e = decode_text(
            r#"{"t":"send","id":"3","to":{"invalid id for ":"b"},"client_msg_id":"c","body":{"type":"text","text":"x"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.error.code,
            ErrorCode::InvalidRequest,
            "{}",
            e.error.message
        );
    }

    #[test]
    fn numbers_in_a_custom_body_are_read_exactly() {
        // Found by fuzz/ (frame_msgpack): serde_json's default float parser can be one ulp off,
        // so a JSON client's number reached its readers changed.
        let text = r#"{"t":"send","to":{"user":"bob"},"client_msg_id":"c","body":{"type":"custom","data":{"x":5.104235503814077e38}}}"#;
        let Ok(ClientFrame::Send {
            body: Some(Body::Custom { data }),
            ..
        }) = decode_text(text)
        else {
            panic!("a send frame with a custom body expected")
        };
        assert_eq!(data["x"].as_f64(), Some(5.104235503814077e38));
        assert_eq!(data.to_string(), r#"{"x":5.104235503814077e+38}"#);
    }

    #[test]
    fn server_frames_have_the_protocol_shape() {
        let frame = ServerFrame::Synced { seq: 3, bseq: None };
        assert_eq!(
            Format::Json.encode(&frame),
            Encoded::Text(r#"{"t":"synced","seq":3}"#.into())
        );
        let Encoded::Binary(bytes) = Format::MessagePack.encode(&ServerFrame::Pong) else {
            panic!("binary expected")
        };
        let back: Value = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, serde_json::json!({"t": "pong"}));
    }
}
