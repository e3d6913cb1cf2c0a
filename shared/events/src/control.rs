//! Control messages between services (core NATS, never stored): what every gateway must do
//! now, as opposed to events, which record what happened.

use serde::{Deserialize, Serialize};
use tidings_domain::login::Platform;

/// What an access notice is checked against: one open session.
#[derive(Debug, Clone, Copy)]
pub struct Holder<'a> {
    /// The epoch of the token it authenticated with.
    pub epoch: u64,
    /// When that token was minted, in milliseconds.
    pub issued_ms: i64,
    /// The device its hello named; `None` before the hello.
    pub device: Option<&'a str>,
    pub platform: Platform,
    /// Its id, a UUIDv7: later sessions have greater ids, on every gateway.
    pub session: &'a str,
}

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
    /// One device of the user was signed out at `at` (milliseconds): the sessions that said
    /// hello as it with a token minted up to then end (all of them when `at` is absent).
    DeviceSignedOut {
        device: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<i64>,
    },
    /// A login under a restrictive login policy: sessions older than `keep` of devices other
    /// than `device`, on `platform` (every platform when `None`), end.
    Replaced {
        keep: String,
        device: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        platform: Option<Platform>,
    },
}

impl AccessEnded {
    /// Whether the session `holder` ends. A session replaced before its hello ends too, so an
    /// older login cannot outlive a newer one by saying hello late.
    pub fn ends(&self, holder: Holder<'_>) -> bool {
        match self {
            AccessEnded::TokensRevoked { epoch } => holder.epoch < *epoch,
            AccessEnded::Deactivated | AccessEnded::AppDisabled => true,
            AccessEnded::DeviceSignedOut { device, at } => {
                holder.device == Some(device.as_str()) && at.is_none_or(|at| holder.issued_ms <= at)
            }
            AccessEnded::Replaced {
                keep,
                device,
                platform,
            } => {
                holder.session < keep.as_str()
                    && holder.device != Some(device.as_str())
                    && platform.is_none_or(|p| holder.device.is_none() || holder.platform == p)
            }
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

    fn holder(epoch: u64, device: Option<&'static str>) -> Holder<'static> {
        Holder {
            epoch,
            issued_ms: 0,
            device,
            platform: Platform::Ios,
            session: "0190",
        }
    }

    #[test]
    fn payloads_round_trip_and_name_the_sessions_they_end() {
        let revoked = AccessEnded::TokensRevoked { epoch: 3 };
        assert_eq!(revoked.encode(), br#"{"end":"tokens_revoked","epoch":3}"#);
        assert_eq!(AccessEnded::decode(&revoked.encode()).unwrap(), revoked);
        assert!(revoked.ends(holder(2, None)) && !revoked.ends(holder(3, Some("phone"))));
        let gone = AccessEnded::Deactivated;
        assert_eq!(
            AccessEnded::decode(br#"{"end":"deactivated"}"#).unwrap(),
            gone
        );
        assert!(gone.ends(holder(7, None)));
        let signed_out = AccessEnded::DeviceSignedOut {
            device: "phone".into(),
            at: None,
        };
        assert_eq!(
            signed_out.encode(),
            br#"{"end":"device_signed_out","device":"phone"}"#
        );
        assert!(signed_out.ends(holder(0, Some("phone"))));
        assert!(!signed_out.ends(holder(0, Some("laptop"))) && !signed_out.ends(holder(0, None)));
        let at = AccessEnded::DeviceSignedOut {
            device: "phone".into(),
            at: Some(100),
        };
        assert_eq!(
            AccessEnded::decode(br#"{"end":"device_signed_out","device":"phone","at":100}"#)
                .unwrap(),
            at
        );
        let minted = |issued_ms| Holder {
            issued_ms,
            ..holder(0, Some("phone"))
        };
        assert!(
            at.ends(minted(100)) && !at.ends(minted(101)),
            "a later token stays"
        );
    }

    #[test]
    fn a_replacing_login_ends_older_sessions_of_other_devices_of_its_platform() {
        let replaced = |platform| AccessEnded::Replaced {
            keep: "0191".into(),
            device: "tablet".into(),
            platform,
        };
        let single = replaced(None);
        assert_eq!(
            single.encode(),
            br#"{"end":"replaced","keep":"0191","device":"tablet"}"#
        );
        assert_eq!(AccessEnded::decode(&single.encode()).unwrap(), single);
        assert!(single.ends(holder(0, Some("phone"))) && single.ends(holder(0, None)));
        assert!(
            !single.ends(holder(0, Some("tablet"))),
            "the same device stays"
        );
        let newer = Holder {
            session: "0192",
            ..holder(0, Some("phone"))
        };
        assert!(
            !single.ends(newer),
            "a newer login is never ended by an older one"
        );
        let per_platform = replaced(Some(Platform::Android));
        assert!(
            !per_platform.ends(holder(0, Some("phone"))),
            "another platform stays"
        );
        let android = Holder {
            platform: Platform::Android,
            ..holder(0, Some("phone"))
        };
        assert!(per_platform.ends(android));
        assert!(AccessEnded::decode(b"[]").is_err());
    }
}
