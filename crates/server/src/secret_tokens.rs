//! The bearer tokens that agents and API clients hold: generating them,
//! validating their holders' names, and hashing them for lookup.
//!
//! A token is 32 random bytes from the operating system, written as a
//! prefix and 64 hexadecimal digits. The prefix distinguishes the kinds and
//! lets secret scanners recognise a leaked token. The database keeps only
//! the SHA-256 of the token's text.

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

const TOKEN_BYTES: usize = 32;
const MAX_NAME_LEN: usize = 64;

/// A token just generated: the text to show once, and the hash to store.
pub(crate) struct NewToken {
    pub clear: SecretString,
    pub sha256: [u8; 32],
}

/// Returns whether `name` is a valid name for a token's holder: 1 to 64 ASCII letters,
/// digits, '.', '_' or '-'.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Generates a token that starts with `prefix`.
pub(crate) fn generate(prefix: &str) -> Result<NewToken, getrandom::Error> {
    let mut random = [0u8; TOKEN_BYTES];
    getrandom::getrandom(&mut random)?;
    let text = format!("{prefix}{}", hex::encode(random));
    let sha256 = hash(&text);
    Ok(NewToken {
        clear: SecretString::from(text),
        sha256,
    })
}

/// Returns the hash to look `token` up by, or `None` when it cannot be a
/// token of this kind. Skipping the lookup for those keeps arbitrary header
/// values away from the database.
pub(crate) fn lookup_hash(token: &str, prefix: &str) -> Option<[u8; 32]> {
    let well_formed = token.strip_prefix(prefix).is_some_and(|digits| {
        digits.len() == 2 * TOKEN_BYTES && digits.bytes().all(|b| b.is_ascii_hexdigit())
    });
    well_formed.then(|| hash(token))
}

/// Returns the token of an `Authorization: Bearer <token>` header, trimmed,
/// or `None` when the request sends none.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn hash_is_sha256_of_the_token_text() {
        assert_eq!(
            hex::encode(hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn token_lookup_checks_prefix() {
        let token = generate("pitot_api_").unwrap();
        let text = token.clear.expose_secret();

        assert_eq!(lookup_hash(text, "pitot_api_"), Some(token.sha256));
        assert_eq!(lookup_hash(text, "pitot_"), None);
        assert_eq!(lookup_hash(&text[..text.len() - 1], "pitot_api_"), None);
    }

    #[test]
    fn names_are_short_and_plain() {
        assert!(is_valid_name("bench-01.example_org"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("two words"));
        assert!(!is_valid_name(&"a".repeat(65)));
    }
}
