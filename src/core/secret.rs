//! What must never be shown: the AppSecret (and a proxy's password) as a
//! value whose `Debug`/`Display` are a mask, and the scrubbing of it from
//! any text, in its plain and URL-encoded forms. A leaf: it needs nothing
//! else of the crate.

use std::borrow::Cow;
use std::fmt;

/// A value that must never be printed: its `Debug`/`Display` show a mask.
/// Owned (settings) or borrowed from where PHP keeps it (a construction
/// copies nothing).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<'a>(Cow<'a, str>);

impl Secret<'static> {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Cow::Owned(value.into()))
    }
}

impl<'a> Secret<'a> {
    pub fn borrowed(value: &'a str) -> Self {
        Secret(Cow::Borrowed(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How a secret is shown wherever PHP prints settings or objects.
    pub const MASK: &'static str = "********";
}

impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MASK)
    }
}

impl fmt::Display for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MASK)
    }
}

/// Masks `secret` (and its URL-encoded form) inside `text`.
pub fn redact(text: &str, secret: &str) -> String {
    // Too short a "secret" would mask ordinary text and protect nothing.
    if secret.len() < 4 {
        return text.to_string();
    }
    let mut out = text.replace(secret, Secret::MASK);
    let encoded = url_encode(secret);
    if encoded != secret {
        out = out.replace(&encoded, Secret::MASK);
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_keeps_unreserved_only() {
        assert_eq!(url_encode("wx12_ab-c.d~"), "wx12_ab-c.d~");
        assert_eq!(url_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn redaction_covers_plain_and_encoded_forms() {
        let secret = "ab cd&ef";
        let text = "secret=ab%20cd%26ef or ab cd&ef";
        let out = redact(text, secret);
        assert!(!out.contains("ab cd&ef"));
        assert!(!out.contains("ab%20cd%26ef"));
        assert_eq!(out, "secret=******** or ********");
    }

    #[test]
    fn tiny_secrets_are_not_used_as_masks() {
        assert_eq!(redact("a b c", "a"), "a b c");
    }
}
