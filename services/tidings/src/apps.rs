//! `tidings apps`: the admin API from the command line. Each command is one signed request
//! (the server API's signature, with the admin credential); the answer is printed as JSON.

use anyhow::Context;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tidings_api::admin::AdminCredential;

/// What to do with apps.
#[derive(Debug, clap::Subcommand)]
pub enum AppsCommand {
    /// Create an app; prints it with its secret (shown once: keep it).
    Create {
        /// The app key (1-64 characters of `[A-Za-z0-9_-]`).
        key: String,
        /// The secret (16-256 bytes); generated when not given.
        #[arg(long)]
        secret: Option<String>,
        /// Settings, `NAME=VALUE` (e.g. `messaging=friends_only`, `max_group_members=500`).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        settings: Vec<String>,
    },
    /// List every app (configured and created), without secrets.
    List,
    /// Give an app a new secret; the old one keeps signing for the grace period.
    RotateSecret {
        key: String,
        /// How long the old secret stays valid (default: the server's `secret_grace_secs`).
        #[arg(long)]
        grace_secs: Option<u64>,
        /// The new secret; generated when not given.
        #[arg(long)]
        secret: Option<String>,
    },
    /// Disable an app for good: its sessions close, its tokens and requests are refused.
    Disable { key: String },
    /// Change settings of an app: `NAME=VALUE`...; others keep their value.
    Set {
        key: String,
        #[arg(value_name = "NAME=VALUE", required = true)]
        settings: Vec<String>,
    },
}

/// Where the admin API is and who calls it.
pub struct Target {
    pub url: String,
    pub admin: AdminCredential,
}

/// `NAME=VALUE` pairs as a settings object: a value that reads as JSON is taken as such
/// (`500`, `true`), anything else as a string (`friends_only`).
pub fn settings(pairs: &[String]) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    pairs
        .iter()
        .map(|pair| {
            let (name, value) = pair
                .split_once('=')
                .with_context(|| format!("{pair:?} is not NAME=VALUE"))?;
            let value = serde_json::from_str(value)
                .unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
            Ok((name.trim().to_owned(), value))
        })
        .collect()
}

/// The request a command makes: method, path and body.
fn request(
    command: &AppsCommand,
) -> anyhow::Result<(reqwest::Method, String, Option<serde_json::Value>)> {
    use reqwest::Method;
    use serde_json::json;
    let app = |key: &str, action: &str| format!("/v1/admin/apps/{key}/{action}");
    Ok(match command {
        AppsCommand::Create {
            key,
            secret,
            settings: pairs,
        } => {
            let mut body = json!({ "key": key, "settings": settings(pairs)? });
            if let Some(secret) = secret {
                body["secret"] = json!(secret);
            }
            (Method::POST, "/v1/admin/apps".into(), Some(body))
        }
        AppsCommand::List => (Method::GET, "/v1/admin/apps".into(), None),
        AppsCommand::RotateSecret {
            key,
            grace_secs,
            secret,
        } => {
            let mut body = json!({});
            if let Some(grace) = grace_secs {
                body["grace_secs"] = json!(grace);
            }
            if let Some(secret) = secret {
                body["secret"] = json!(secret);
            }
            (Method::POST, app(key, "rotate-secret"), Some(body))
        }
        AppsCommand::Disable { key } => (Method::POST, app(key, "disable"), None),
        AppsCommand::Set {
            key,
            settings: pairs,
        } => (
            Method::POST,
            app(key, "settings"),
            Some(serde_json::Value::Object(settings(pairs)?)),
        ),
    })
}

/// The signature headers of a request (docs/protocol.md, Server API).
fn signature(
    admin: &AdminCredential,
    method: &str,
    path: &str,
    body: &[u8],
) -> [(&'static str, String); 4] {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let canonical = format!(
        "{method}\n{path}\n{timestamp}\n{nonce}\n{}",
        hex::encode(Sha256::digest(body))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(admin.secret.as_bytes()).expect("any key length");
    mac.update(canonical.as_bytes());
    [
        ("X-App-Key", admin.key.clone()),
        ("X-Timestamp", timestamp),
        ("X-Nonce", nonce),
        ("X-Signature", hex::encode(mac.finalize().into_bytes())),
    ]
}

/// Runs one command; prints the answer, or fails with the server's error.
pub async fn run(target: &Target, command: &AppsCommand) -> anyhow::Result<()> {
    let (method, path, body) = request(command)?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let url = format!("{}{path}", target.url.trim_end_matches('/'));
    let mut builder = tidings_runtime::outbound::client()
        .build()?
        .request(method.clone(), &url);
    for (name, value) in signature(&target.admin, method.as_str(), &path, body.as_bytes()) {
        builder = builder.header(name, value);
    }
    if !body.is_empty() {
        builder = builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
    }
    let response = builder
        .send()
        .await
        .with_context(|| format!("calling {url}"))?;
    let status = response.status();
    let answer: serde_json::Value = response
        .json()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    if !status.is_success() {
        anyhow::bail!(
            "{} {}: {}",
            status.as_u16(),
            answer["code"].as_str().unwrap_or("?"),
            answer["message"].as_str().unwrap_or("")
        );
    }
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_take_json_values_and_plain_strings() {
        let parsed = settings(&[
            "messaging=friends_only".into(),
            "max_group_members=500".into(),
        ])
        .unwrap();
        assert_eq!(parsed["messaging"], "friends_only");
        assert_eq!(parsed["max_group_members"], 500);
        assert!(settings(&["nothing".into()]).is_err());
    }
}
