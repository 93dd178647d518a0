//! Webhook signature verification (`X-Hub-Signature-256`).
//!
//! GitHub signs each delivery with HMAC-SHA256 of the raw request body, keyed
//! by the webhook secret, and sends `sha256=<hex digest>`. The digest must be
//! checked over the exact bytes received, before anything parses them, and
//! compared in constant time. The older `X-Hub-Signature` (SHA-1) header is
//! not accepted. See GitHub's "Validating webhook deliveries".

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a delivery's signature was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing: configure the webhook with a secret")]
    Missing,
    #[error("the X-Hub-Signature-256 header is malformed: expected `sha256=` and 64 hex digits")]
    Malformed,
    #[error("the X-Hub-Signature-256 header does not match the body: check that the webhook secret is the one pitot has")]
    Mismatch,
}

/// Verifies `header` (the `X-Hub-Signature-256` value) against `body` and `secret`.
pub fn verify_signature(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header.strip_prefix("sha256=").ok_or(SignatureError::Malformed)?;
    if hex_digest.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;

    // Any key length is valid for HMAC, so `new_from_slice` cannot fail here.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

/// Returns the `X-Hub-Signature-256` header value for `body`; used to sign test
/// deliveries and by `pitot demo` to sign the deliveries it sends itself.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector from GitHub's "Validating webhook deliveries".
    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const HEADER: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_test_vector_verifies() {
        assert_eq!(verify_signature(SECRET, BODY, Some(HEADER)), Ok(()));
    }

    #[test]
    fn sign_matches_github_test_vector() {
        assert_eq!(sign(SECRET, BODY), HEADER);
    }

    #[test]
    fn bad_signatures_are_rejected() {
        let sha1 = "sha1=0a4d55a8d778e5022fab701977c5d840bbc486d0";
        let wrong_digit = HEADER.replace("757107", "757108");
        let upper_prefix = HEADER.replace("sha256=", "SHA256=");
        let short = &HEADER[..HEADER.len() - 2];
        let not_hex = HEADER.replace("757107", "75710g");
        let cases: [(&str, Option<&str>, &[u8], SignatureError); 7] = [
            ("missing header", None, BODY, SignatureError::Missing),
            ("sha-1 only", Some(sha1), BODY, SignatureError::Malformed),
            ("prefix in capitals", Some(&upper_prefix), BODY, SignatureError::Malformed),
            ("truncated digest", Some(short), BODY, SignatureError::Malformed),
            ("non-hex digest", Some(&not_hex), BODY, SignatureError::Malformed),
            ("one digit changed", Some(&wrong_digit), BODY, SignatureError::Mismatch),
            ("body changed", Some(HEADER), b"Hello, World?", SignatureError::Mismatch),
        ];

        for (case, header, body, expected) in cases {
            assert_eq!(verify_signature(SECRET, body, header), Err(expected), "case: {case}");
        }
    }

    #[test]
    fn wrong_secret_is_rejected() {
        let result = verify_signature(b"another secret", BODY, Some(HEADER));

        assert_eq!(result, Err(SignatureError::Mismatch));
    }
}
