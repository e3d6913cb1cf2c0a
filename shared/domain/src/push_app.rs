//! An app's offline push configuration (`AppSettings.push`): where notifications of devices
//! registered with each provider go, and with which credentials. Every field has a default,
//! so apps configured before push existed read as "no provider configured".

use serde::{Deserialize, Serialize};

/// The APNs production endpoint.
pub const APNS_ENDPOINT: &str = "https://api.push.apple.com";
/// Google's OAuth2 token endpoint.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The FCM HTTP v1 endpoint.
pub const FCM_ENDPOINT: &str = "https://fcm.googleapis.com";

/// An app's push configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PushAppSettings {
    /// The app server's URL that `webhook` devices' notifications are POSTed to, signed like
    /// the server API; `None`: such devices get nothing.
    pub webhook_url: Option<String>,
    /// APNs token-auth credentials; `None`: `apns` devices get nothing. Boxed, as `fcm`: most
    /// apps' settings (copied into every app command) carry neither.
    pub apns: Option<Box<ApnsSettings>>,
    /// FCM service-account credentials; `None`: `fcm` devices get nothing.
    pub fcm: Option<Box<FcmSettings>>,
    /// Whether a notification shows the message's text (default true); otherwise only who
    /// wrote.
    pub preview: bool,
}

impl Default for PushAppSettings {
    fn default() -> Self {
        Self {
            webhook_url: None,
            apns: None,
            fcm: None,
            preview: true,
        }
    }
}

/// What views and logs show instead of a private key.
pub const HIDDEN: &str = "(hidden)";

impl PushAppSettings {
    /// Whether any provider is configured: without one, no device of the app can be pushed to.
    pub fn has_provider(&self) -> bool {
        self.webhook_url.is_some() || self.apns.is_some() || self.fcm.is_some()
    }

    /// These settings with every private key replaced by [`HIDDEN`], for views and logs.
    pub fn redacted(&self) -> Self {
        let mut shown = self.clone();
        if let Some(apns) = &mut shown.apns {
            apns.private_key = HIDDEN.to_owned();
        }
        if let Some(fcm) = &mut shown.fcm {
            fcm.private_key = HIDDEN.to_owned();
        }
        shown
    }
}

/// APNs provider-token credentials (a `.p8` signing key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApnsSettings {
    pub team_id: String,
    pub key_id: String,
    /// The `.p8` key: a PKCS#8 PEM EC P-256 private key.
    pub private_key: String,
    /// The `apns-topic` (bundle id) for registrations that name none.
    #[serde(default)]
    pub topic: Option<String>,
    /// `https://api.push.apple.com` (default) or the sandbox.
    #[serde(default = "apns_endpoint")]
    pub endpoint: String,
}

/// FCM HTTP v1 credentials: the fields of a Google service-account JSON key that are used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FcmSettings {
    pub project_id: String,
    pub client_email: String,
    /// A PKCS#8 PEM RSA private key.
    pub private_key: String,
    #[serde(default = "token_uri")]
    pub token_uri: String,
    #[serde(default = "fcm_endpoint")]
    pub endpoint: String,
}

fn apns_endpoint() -> String {
    APNS_ENDPOINT.to_owned()
}

fn token_uri() -> String {
    GOOGLE_TOKEN_URI.to_owned()
}

fn fcm_endpoint() -> String {
    FCM_ENDPOINT.to_owned()
}
