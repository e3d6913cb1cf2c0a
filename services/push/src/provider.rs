//! The provider port: one notification to one device through the provider its registration
//! names (the app server's webhook, APNs or FCM), with the app's push settings.

use crate::apns::Apns;
use crate::fcm::Fcm;
use crate::job::PushJob;
use crate::webhook::Webhook;
use std::time::Duration;
use tidings_domain::AppId;
use tidings_domain::app::AppState;
use tidings_domain::push::PushProvider;
use tidings_domain::push_app::PushAppSettings;

/// How long one provider request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The app configured no credentials or URL for the provider.
    #[error("the app has no {0} push configured")]
    NotConfigured(&'static str),
    /// The app's credentials cannot be used (a malformed key).
    #[error("bad {provider} credentials: {reason}")]
    Credentials {
        provider: &'static str,
        reason: String,
    },
    /// The provider refused the notification; sending it again changes nothing.
    #[error("{provider} refused it ({status}): {body}")]
    Refused {
        provider: &'static str,
        status: u16,
        body: String,
    },
    /// The provider could not be reached or failed; worth a retry.
    #[error("{provider} unavailable: {reason}")]
    Unavailable {
        provider: &'static str,
        reason: String,
    },
}

impl SendError {
    /// Whether a later attempt may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, SendError::Unavailable { .. })
    }

    /// A provider's non-success answer: server errors and throttling are worth a retry.
    pub(crate) fn status(
        provider: &'static str,
        status: reqwest::StatusCode,
        body: String,
    ) -> Self {
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            SendError::Unavailable {
                provider,
                reason: format!("{status}: {body}"),
            }
        } else {
            SendError::Refused {
                provider,
                status: status.as_u16(),
                body,
            }
        }
    }

    pub(crate) fn transport(provider: &'static str, error: reqwest::Error) -> Self {
        SendError::Unavailable {
            provider,
            reason: tidings_runtime::outbound::describe(&error),
        }
    }
}

/// What a provider needs of the app besides the job.
#[derive(Debug, Clone)]
pub struct AppPush {
    pub app_key: String,
    /// The secret webhook calls are signed with.
    pub secret: String,
    pub settings: PushAppSettings,
}

impl AppPush {
    /// What the providers need of `app`, whose state is `state`.
    pub fn of(app: &AppId, state: &AppState) -> Self {
        Self {
            app_key: app.to_string(),
            secret: state.secret.clone(),
            settings: state.settings.push.clone(),
        }
    }
}

/// Every provider adapter.
pub struct Providers {
    webhook: Webhook,
    apns: Apns,
    fcm: Fcm,
}

impl Providers {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            webhook: Webhook::new()?,
            apns: Apns::new()?,
            fcm: Fcm::new()?,
        })
    }

    /// Delivers `job` through its registration's provider.
    pub async fn send(&self, job: &PushJob, app: &AppPush) -> Result<(), SendError> {
        match job.provider {
            PushProvider::Webhook => self.webhook.send(job, app).await,
            PushProvider::Apns => self.apns.send(job, app).await,
            PushProvider::Fcm => self.fcm.send(job, app).await,
        }
    }
}

/// The DER bytes of a PEM block (any label).
pub(crate) fn pem_der(pem: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("not a PEM key: {e}"))
}

/// Seconds since the epoch.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The notification's title: who wrote, and how many messages when a burst collapsed.
pub(crate) fn title(job: &PushJob) -> String {
    if job.count > 1 {
        format!("{} ({} messages)", job.from, job.count)
    } else {
        job.from.to_string()
    }
}
