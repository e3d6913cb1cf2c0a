//! Control messages between services (core NATS, never stored): what every gateway must do
//! now, as opposed to events, which record what happened.

use serde::{Deserialize, Serialize};

/// A user's access ended: every session of theirs that it names must close. Published by the
/// api on `subjects::access_ended` once the change is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum AccessEnded {
    /// Tokens with an epoch below `epoch` were revoked.
    TokensRevoked { epoch: u64 },
    /// The user was deactivated: every session ends.
    Deactivated,
    /// The user's app was disabled: every session of the app ends.
    AppDisabled,
    /// One device of the user was signed out: the sessions that said hello as it end.
    DeviceSignedOut { device: String },
}

impl AccessEnded {
    /// Whether a session authenticated with a token of `epoch`, named `device` by its hello
    /// (`None` before it), ends.
    pub fn ends(&self, epoch: u64, device: Option<&str>) -> bool {
        match self {
            AccessEnded::TokensRevoked { epoch: current } => epoch < *current,
            AccessEnded::Deactivated | AccessEnded::AppDisabled => true,
            AccessEnded::DeviceSignedOut { device: gone } => device == Some(gone.as_str()),
        }
    }

    /// The payload: JSON, so operators can read it with `nats sub`.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a control message encodes")
    }

    /// Reads a payload.
    pub fn decode(payload: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_name_the_sessions_they_end() {
        let revoked = AccessEnded::TokensRevoked { epoch: 3 };
        assert_eq!(revoked.encode(), br#"{"end":"tokens_revoked","epoch":3}"#);
        assert_eq!(AccessEnded::decode(&revoked.encode()).unwrap(), revoked);
        assert!(revoked.ends(2, None) && !revoked.ends(3, Some("phone")));
        let gone = AccessEnded::Deactivated;
        assert_eq!(
            AccessEnded::decode(br#"{"end":"deactivated"}"#).unwrap(),
            gone
        );
        assert!(gone.ends(7, None));
        let signed_out = AccessEnded::DeviceSignedOut {
            device: "phone".into(),
        };
        assert_eq!(
            signed_out.encode(),
            br#"{"end":"device_signed_out","device":"phone"}"#
        );
        assert!(signed_out.ends(0, Some("phone")));
        assert!(!signed_out.ends(0, Some("laptop")) && !signed_out.ends(0, None));
        assert!(AccessEnded::decode(b"[]").is_err());
    }
}
