//! User tokens: HS256 JWTs signed with the app's secret, the app key in the `kid` header.
//! Claims: user (`sub`), app, expiry, and the user's token epoch (bumped to revoke).

use crate::apps::Apps;
use crate::error::{ApiError, ErrorCode};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tidings_domain::{AppId, UserId};

/// Default token lifetime.
pub const DEFAULT_TTL_SECS: u64 = 7 * 24 * 3600;
/// Longest token lifetime a caller may ask for.
pub const MAX_TTL_SECS: u64 = 90 * 24 * 3600;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub app: String,
    pub iat: i64,
    pub exp: i64,
    /// Token epoch: tokens minted before the user's epoch was bumped are revoked.
    pub ep: u64,
    /// Issue time in milliseconds (`iat` is whole seconds), so a device sign-out refuses
    /// exactly the tokens minted up to it. Older tokens have none: `iat` * 1000 stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam: Option<i64>,
}

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub app: AppId,
    pub user: UserId,
    pub epoch: u64,
    /// When the token was minted, in milliseconds.
    pub issued_ms: i64,
}

/// A token's issue time in milliseconds: the clock's millisecond when it falls within
/// `now_secs` (the usual case), else the start of that second.
fn issue_ms(now_secs: i64) -> i64 {
    let start = now_secs.saturating_mul(1000);
    let now_ms = chrono::Utc::now().timestamp_millis();
    if (start..start + 1000).contains(&now_ms) {
        now_ms
    } else {
        start
    }
}

/// Mints and verifies tokens.
#[derive(Clone)]
pub struct Tokens {
    apps: Apps,
}

impl Tokens {
    /// Tokens for these apps.
    pub fn new(apps: Apps) -> Self {
        Self { apps }
    }

    /// Mints a token; returns it with its expiry (unix seconds).
    pub fn mint(
        &self,
        app: &AppId,
        user: &UserId,
        epoch: u64,
        ttl_secs: u64,
        now_secs: i64,
    ) -> Result<(String, i64), ApiError> {
        if ttl_secs == 0 || ttl_secs > MAX_TTL_SECS {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("ttl_secs must be 1-{MAX_TTL_SECS}"),
            ));
        }
        let secret = self
            .apps
            .signing_secret(app)
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownApp, "unknown app"))?;
        let exp = now_secs + ttl_secs as i64;
        let claims = Claims {
            sub: user.to_string(),
            app: app.to_string(),
            iat: now_secs,
            exp,
            ep: epoch,
            iam: Some(issue_ms(now_secs)),
        };
        let header = Header {
            kid: Some(app.to_string()),
            ..Header::new(Algorithm::HS256)
        };
        let token = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("token encoding: {e}")))?;
        Ok((token, exp))
    }

    /// Verifies a token: signature (by the app's current secret, or the previous one during
    /// its grace), algorithm, expiry and the app named in `kid`, as the app is now. A token of
    /// a disabled app is refused.
    pub async fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let unauthorized = |why: &str| ApiError::new(ErrorCode::Unauthorized, why.to_owned());
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| unauthorized("malformed token"))?;
        let app = header
            .kid
            .and_then(|kid| AppId::parse(kid).ok())
            .ok_or_else(|| unauthorized("token names no app"))?;
        let (state, _) = self
            .apps
            .current(&app)
            .await?
            .ok_or_else(|| unauthorized("token of an unknown app"))?;
        if state.disabled {
            return Err(unauthorized("app is disabled"));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut outcome = Err(unauthorized("invalid token"));
        for secret in state.secrets_at(now_ms) {
            let decoded = jsonwebtoken::decode::<Claims>(
                token,
                &DecodingKey::from_secret(secret.as_bytes()),
                &validation,
            );
            match decoded {
                Ok(data) => {
                    outcome = Ok(data);
                    break;
                }
                Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                    outcome = Err(unauthorized("token expired"));
                    break;
                }
                Err(_) => {}
            }
        }
        let data = outcome?;
        if data.claims.app != app.as_str() {
            return Err(unauthorized("invalid token"));
        }
        let user = UserId::parse(data.claims.sub).map_err(|_| unauthorized("invalid token"))?;
        Ok(Principal {
            app,
            user,
            epoch: data.claims.ep,
            issued_ms: data
                .claims
                .iam
                .unwrap_or_else(|| data.claims.iat.saturating_mul(1000)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::AppConfig;

    fn tokens() -> Tokens {
        Tokens::new(
            Apps::new(&[
                AppConfig::new("demo", "0123456789abcdef0123"),
                AppConfig::new("other", "fedcba9876543210fedc"),
            ])
            .unwrap(),
        )
    }

    /// `verify` of configured apps, which never waits on NATS.
    fn verify(tokens: &Tokens, token: &str) -> Result<Principal, ApiError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(tokens.verify(token))
    }

    fn ids() -> (AppId, UserId) {
        (
            AppId::parse("demo").unwrap(),
            UserId::parse("alice").unwrap(),
        )
    }

    #[test]
    fn a_minted_token_verifies() {
        let (app, user) = ids();
        let now = chrono::Utc::now().timestamp();
        let (token, exp) = tokens().mint(&app, &user, 3, 60, now).unwrap();
        assert_eq!(exp, now + 60);
        let p = verify(&tokens(), &token).unwrap();
        assert_eq!((p.app, p.user, p.epoch), (app, user, 3));
        assert_eq!(
            p.issued_ms / 1000,
            now,
            "issued in milliseconds, within `iat`"
        );
    }

    #[test]
    fn expired_forged_and_cross_app_tokens_fail() {
        let (app, user) = ids();
        let long_ago = chrono::Utc::now().timestamp() - 3600;
        let (expired, _) = tokens().mint(&app, &user, 0, 60, long_ago).unwrap();
        assert_eq!(
            verify(&tokens(), &expired).unwrap_err().message,
            "token expired"
        );

        let now = chrono::Utc::now().timestamp();
        let (token, _) = tokens().mint(&app, &user, 0, 60, now).unwrap();
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(verify(&tokens(), &forged).is_err());
        assert!(verify(&tokens(), "not.a.token").is_err());

        // Signed with another app's secret but claiming `demo` in kid.
        let other = AppId::parse("other").unwrap();
        let (foreign, _) = tokens().mint(&other, &user, 0, 60, now).unwrap();
        assert!(verify(&tokens(), &foreign).is_ok());
        let parts: Vec<&str> = foreign.split('.').collect();
        let demo_header = token.split('.').next().unwrap();
        let spliced = format!("{demo_header}.{}.{}", parts[1], parts[2]);
        assert!(verify(&tokens(), &spliced).is_err());
    }
}
