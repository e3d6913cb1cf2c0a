//! An app's feed webhook: where Tidings POSTs the app's public feed records, signed with the
//! webhook's own secret, and how long it keeps retrying one before dead-lettering it.

use crate::DomainError;
use serde::{Deserialize, Serialize};

/// Default attempts per record before it is dead-lettered.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// Default wait before the first retry; each later one waits twice the one before.
pub const DEFAULT_BACKOFF_MS: u64 = 1_000;
/// Most attempts a webhook may ask for.
pub const MAX_ATTEMPTS: u32 = 100;
/// Longest first backoff a webhook may ask for: one hour.
pub const MAX_BACKOFF_MS: u64 = 3_600_000;

/// The `feed_webhook` app setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedWebhook {
    /// `http://` or `https://` URL the records are POSTed to.
    pub url: String,
    /// The HMAC key of the `X-Signature` header (16-256 bytes).
    pub secret: String,
    /// Attempts per record before it is dead-lettered.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait before the first retry, in ms; doubled for each later one (capped at 10 minutes).
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
}

fn default_max_attempts() -> u32 {
    DEFAULT_MAX_ATTEMPTS
}

fn default_backoff_ms() -> u64 {
    DEFAULT_BACKOFF_MS
}

impl FeedWebhook {
    /// Refuses a webhook that cannot work.
    pub fn validate(&self) -> Result<(), DomainError> {
        let invalid = |m: String| Err(DomainError::Invalid(format!("feed_webhook: {m}")));
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return invalid("url must start with http:// or https://".into());
        }
        if let Err(e) = crate::app::validate_secret(&self.secret) {
            return invalid(e.to_string());
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.max_attempts) {
            return invalid(format!("max_attempts must be 1-{MAX_ATTEMPTS}"));
        }
        if !(1..=MAX_BACKOFF_MS).contains(&self.backoff_ms) {
            return invalid(format!("backoff_ms must be 1-{MAX_BACKOFF_MS}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_bad_values_are_refused() {
        let hook: FeedWebhook =
            serde_json::from_str(r#"{"url":"http://h/x","secret":"0123456789abcdef"}"#).unwrap();
        assert_eq!(hook.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert!(hook.validate().is_ok());
        for bad in [
            FeedWebhook {
                url: "ftp://h".into(),
                ..hook.clone()
            },
            FeedWebhook {
                secret: "short".into(),
                ..hook.clone()
            },
            FeedWebhook {
                max_attempts: 0,
                ..hook.clone()
            },
            FeedWebhook {
                backoff_ms: 0,
                ..hook.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
