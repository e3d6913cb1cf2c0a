//! The signature of a webhook request, the server API's scheme turned around: Tidings signs,
//! the app server verifies, with the same canonical string and headers
//! (`X-App-Key`, `X-Timestamp`, `X-Nonce`, `X-Signature`; see docs/protocol.md).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Lowercase hex of HMAC-SHA256(`secret`, `METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nhex(sha256(body))`).
pub fn signature(
    secret: &str,
    method: &str,
    path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    let canonical = format!(
        "{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{}",
        hex::encode(Sha256::digest(body))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The path and query of a URL (`/` when it has none), what the signature covers.
pub fn path_and_query(url: &reqwest::Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_server_apis_scheme() {
        // tests/e2e/webhooks.rs checks it against the testkit's server-API signer.
        let a = signature(
            "0123456789abcdef",
            "POST",
            "/hook",
            1_700_000_000,
            "n1",
            b"{}",
        );
        assert_eq!(a.len(), 64);
        assert_ne!(
            a,
            signature(
                "0123456789abcdef",
                "POST",
                "/hook",
                1_700_000_000,
                "n2",
                b"{}"
            )
        );
        let url = reqwest::Url::parse("http://h:1/a/b?x=1").unwrap();
        assert_eq!(path_and_query(&url), "/a/b?x=1");
    }
}
