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
}

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub app: AppId,
    pub user: UserId,
    pub epoch: u64,
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
            .secret(app)
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownApp, "unknown app"))?;
        let exp = now_secs + ttl_secs as i64;
        let claims = Claims {
            sub: user.to_string(),
            app: app.to_string(),
            iat: now_secs,
            exp,
            ep: epoch,
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

    /// Verifies a token: signature, algorithm, expiry and the app named in `kid`.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let unauthorized = |why: &str| ApiError::new(ErrorCode::Unauthorized, why.to_owned());
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| unauthorized("malformed token"))?;
        let app = header
            .kid
            .and_then(|kid| AppId::parse(kid).ok())
            .ok_or_else(|| unauthorized("token names no app"))?;
        let secret = self
            .apps
            .secret(&app)
            .ok_or_else(|| unauthorized("token of an unknown app"))?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(secret.as_bytes()),
            &validation,
        )
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => unauthorized("token expired"),
            _ => unauthorized("invalid token"),
        })?;
        if data.claims.app != app.as_str() {
            return Err(unauthorized("invalid token"));
        }
        let user = UserId::parse(data.claims.sub).map_err(|_| unauthorized("invalid token"))?;
        Ok(Principal {
            app,
            user,
            epoch: data.claims.ep,
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
                AppConfig {
                    key: "demo".into(),
                    secret: "0123456789abcdef0123".into(),
                    messaging: Default::default(),
                    max_group_members: crate::apps::DEFAULT_GROUP_CAP,
                    max_file_bytes: crate::apps::DEFAULT_FILE_CAP,
                    max_pins: crate::apps::DEFAULT_MAX_PINS,
                    reaction_keys: Vec::new(),
                    recall_window_secs: crate::apps::DEFAULT_RECALL_WINDOW_SECS,
                    edit_window_secs: crate::apps::DEFAULT_EDIT_WINDOW_SECS,
                },
                AppConfig {
                    key: "other".into(),
                    secret: "fedcba9876543210fedc".into(),
                    messaging: Default::default(),
                    max_group_members: crate::apps::DEFAULT_GROUP_CAP,
                    max_file_bytes: crate::apps::DEFAULT_FILE_CAP,
                    max_pins: crate::apps::DEFAULT_MAX_PINS,
                    reaction_keys: Vec::new(),
                    recall_window_secs: crate::apps::DEFAULT_RECALL_WINDOW_SECS,
                    edit_window_secs: crate::apps::DEFAULT_EDIT_WINDOW_SECS,
                },
            ])
            .unwrap(),
        )
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
        let p = tokens().verify(&token).unwrap();
        assert_eq!((p.app, p.user, p.epoch), (app, user, 3));
    }

    #[test]
    fn expired_forged_and_cross_app_tokens_fail() {
        let (app, user) = ids();
        let long_ago = chrono::Utc::now().timestamp() - 3600;
        let (expired, _) = tokens().mint(&app, &user, 0, 60, long_ago).unwrap();
        assert_eq!(
            tokens().verify(&expired).unwrap_err().message,
            "token expired"
        );

        let now = chrono::Utc::now().timestamp();
        let (token, _) = tokens().mint(&app, &user, 0, 60, now).unwrap();
        let mut forged = token.clone();
        forged.pop();
        forged.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(tokens().verify(&forged).is_err());
        assert!(tokens().verify("not.a.token").is_err());

        // Signed with another app's secret but claiming `demo` in kid.
        let other = AppId::parse("other").unwrap();
        let (foreign, _) = tokens().mint(&other, &user, 0, 60, now).unwrap();
        assert!(tokens().verify(&foreign).is_ok());
        let parts: Vec<&str> = foreign.split('.').collect();
        let demo_header = token.split('.').next().unwrap();
        let spliced = format!("{demo_header}.{}.{}", parts[1], parts[2]);
        assert!(tokens().verify(&spliced).is_err());
    }
}
