//! Percent-encoding of text placed in a URL's path segment or query value.

/// Percent-encodes `value`, keeping only RFC 3986's unreserved characters,
/// so that it stays one path segment or one query value whatever it
/// contains (`/`, `#`, `?`, `%`, spaces, non-ASCII text).
pub fn encode_segment(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_characters_are_encoded() {
        assert_eq!(encode_segment("a-b.c_d~e9"), "a-b.c_d~e9");
        assert_eq!(encode_segment("../x#1?%"), "..%2Fx%231%3F%25");
        assert_eq!(encode_segment("é b"), "%C3%A9%20b");
    }
}
