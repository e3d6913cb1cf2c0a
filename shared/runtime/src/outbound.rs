//! The one place outbound HTTP clients are built (before-send hooks, feed webhooks, push
//! providers, the CLI and the testkit): reqwest over rustls with the `ring` crypto provider.
//!
//! Server certificates are checked by rustls-platform-verifier against the OS trust store
//! (on Debian: `/etc/ssl/certs`, package `ca-certificates`), plus any extra CA certificates
//! named by `[http] extra_ca_file` (`TIDINGS_EXTRA_CA_FILE`) and registered here at start-up
//! with [`trust_extra_ca_file`]. The extra roots are process-wide, as the crypto provider is:
//! they apply to every client built afterwards. The OS store is read when a client is built
//! (at start-up), not per connection. A host with no OS store at all (no `ca-certificates`)
//! still gets clients, trusting only the extra roots, so `http://` keeps working; that is
//! logged once as a warning.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The extra CA files read so far and their certificates, added by [`trust_extra_ca_file`].
static EXTRA_ROOTS: Mutex<(Vec<PathBuf>, Vec<reqwest::Certificate>)> =
    Mutex::new((Vec::new(), Vec::new()));

/// Installs rustls' `ring` provider as the process default, once; later calls (and a provider
/// installed by someone else first) leave it as it is. reqwest is built with
/// `rustls-no-provider` and panics building a client with no provider installed.
pub fn install_crypto_provider() {
    // An Err only says a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Trusts the CA certificates of the PEM file at `path` (one or more) for every client built
/// afterwards, next to the OS store. A file already trusted is not read again.
pub fn trust_extra_ca_file(path: &Path) -> anyhow::Result<()> {
    let mut roots = EXTRA_ROOTS.lock().unwrap_or_else(|e| e.into_inner());
    if roots.0.iter().any(|p| p == path) {
        return Ok(());
    }
    let pem =
        std::fs::read(path).with_context(|| format!("reading extra_ca_file {}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("parsing extra_ca_file {} as PEM", path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "extra_ca_file {} holds no certificate",
        path.display()
    );
    tracing::info!(file = %path.display(), certificates = certs.len(), "trusting extra CA certificates for outbound HTTPS");
    roots.0.push(path.to_owned());
    roots.1.extend(certs);
    Ok(())
}

/// Whether the OS trust store has certificates: rustls-platform-verifier refuses to build a
/// client over an empty one. Checked once, by building a client on it.
fn os_store_usable() -> bool {
    static USABLE: OnceLock<bool> = OnceLock::new();
    *USABLE.get_or_init(|| match reqwest::Client::builder().build() {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(
                error = %std::error::Error::source(&error).map_or(error.to_string(), |s| s.to_string()),
                "no usable OS trust store (install ca-certificates): outbound https:// calls trust only [http] extra_ca_file"
            );
            false
        }
    })
}

/// A client builder for `http://` and `https://` URLs: the crypto provider installed, the OS
/// store and the extra CA certificates trusted.
pub fn client() -> reqwest::ClientBuilder {
    install_crypto_provider();
    let extra = EXTRA_ROOTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .1
        .clone();
    if os_store_usable() {
        reqwest::Client::builder().tls_certs_merge(extra)
    } else {
        reqwest::Client::builder().tls_certs_only(extra)
    }
}

/// A failed call's error with its causes (`error sending request: ...: invalid peer
/// certificate: UnknownIssuer`): reqwest's own message names neither a TLS nor a connect error.
pub fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_tls_client_and_refuses_a_file_without_certificates() {
        client()
            .build()
            .expect("a client builds with the ring provider");
        let dir = std::env::temp_dir().join(format!("tidings-outbound-{}", std::process::id()));
        std::fs::write(&dir, "not a certificate").unwrap();
        assert!(trust_extra_ca_file(&dir).is_err());
        assert!(trust_extra_ca_file(Path::new("/nonexistent/ca.pem")).is_err());
        std::fs::remove_file(&dir).unwrap();
    }
}
