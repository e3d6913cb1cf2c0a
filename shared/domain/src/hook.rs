//! An app's before-send hook and per-user limits, as app settings: where the hook is called,
//! how long it may take, what a failure means, and which messages it sees.

use crate::BodyKind;
use crate::DomainError;
use serde::{Deserialize, Serialize};

/// The default time a before-send hook has to answer: 2 s.
pub const DEFAULT_HOOK_TIMEOUT_MS: u64 = 2000;
/// The longest timeout a hook may be given: 10 s (a send waits for it).
pub const MAX_HOOK_TIMEOUT_MS: u64 = 10_000;

/// What a hook that does not answer (timeout, no responder, an unreadable answer) means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookFailure {
    /// The message is sent as it is.
    #[default]
    Open,
    /// The message is refused (`unavailable`).
    Closed,
}

/// The kind of conversation a hook filter names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvKind {
    Direct,
    Group,
}

/// The before-send hook of an app (setting `before_send`): a NATS request on
/// `tid.hook.<app>.before_send` when `nats` is set, and/or a signed HTTP `POST` to `url`, made
/// before a message is recorded. Both set: NATS first, then HTTP with NATS's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeforeSendHook {
    pub nats: bool,
    /// An `http://` or `https://` URL the hook is `POST`ed to, signed with the app's secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// How long each call may take, in milliseconds (default 2000, 1-10000).
    pub timeout_ms: u64,
    /// `open` (default: a failed call lets the message through) or `closed`.
    pub failure: HookFailure,
    /// The conversation kinds the hook sees (empty: all).
    pub conv_kinds: Vec<ConvKind>,
    /// The body types the hook sees (empty: all).
    pub body_types: Vec<BodyKind>,
}

impl Default for BeforeSendHook {
    fn default() -> Self {
        Self {
            nats: false,
            url: None,
            timeout_ms: DEFAULT_HOOK_TIMEOUT_MS,
            failure: HookFailure::default(),
            conv_kinds: Vec::new(),
            body_types: Vec::new(),
        }
    }
}

impl BeforeSendHook {
    /// Refuses a hook that could never be called.
    pub fn validate(&self) -> Result<(), DomainError> {
        let invalid = |m: &str| Err(DomainError::Invalid(format!("before_send: {m}")));
        if !self.nats && self.url.is_none() {
            return invalid("set `nats` to true, a `url`, or both");
        }
        if let Some(url) = &self.url {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"))
                .unwrap_or_default();
            if rest.is_empty() || url.len() > 2048 || url.chars().any(char::is_whitespace) {
                return invalid("url must be an http:// or https:// URL of at most 2048 bytes");
            }
        }
        if !(1..=MAX_HOOK_TIMEOUT_MS).contains(&self.timeout_ms) {
            return invalid("timeout_ms must be 1-10000");
        }
        Ok(())
    }

    /// Whether a message of `kind` in a conversation of `conv` passes the hook's filters.
    pub fn applies(&self, conv: ConvKind, kind: BodyKind) -> bool {
        (self.conv_kinds.is_empty() || self.conv_kinds.contains(&conv))
            && (self.body_types.is_empty() || self.body_types.contains(&kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_needs_a_transport_and_a_sane_timeout() {
        assert!(BeforeSendHook::default().validate().is_err());
        let nats = BeforeSendHook {
            nats: true,
            ..BeforeSendHook::default()
        };
        assert!(nats.validate().is_ok());
        let slow = BeforeSendHook {
            timeout_ms: 0,
            ..nats.clone()
        };
        assert!(slow.validate().is_err());
        let ftp = BeforeSendHook {
            url: Some("ftp://x".into()),
            ..nats.clone()
        };
        assert!(ftp.validate().is_err());
        for url in ["http://h/x", "https://h/x"] {
            let hook = BeforeSendHook {
                url: Some(url.into()),
                ..nats.clone()
            };
            assert!(hook.validate().is_ok(), "{url}");
        }
        let bare = BeforeSendHook {
            url: Some("https://".into()),
            ..nats.clone()
        };
        assert!(bare.validate().is_err());
    }

    #[test]
    fn filters_name_what_the_hook_sees() {
        let hook = BeforeSendHook {
            nats: true,
            conv_kinds: vec![ConvKind::Group],
            body_types: vec![BodyKind::Text],
            ..BeforeSendHook::default()
        };
        assert!(hook.applies(ConvKind::Group, BodyKind::Text));
        assert!(!hook.applies(ConvKind::Direct, BodyKind::Text));
        assert!(!hook.applies(ConvKind::Group, BodyKind::Custom));
    }
}
