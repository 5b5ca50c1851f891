//! The memcached keys of one token: the plain key legacy code reads, built
//! from `weixin.cache_key`, and the companions only this extension uses.

use crate::config::MAX_KEY_LEN;
use crate::error::WeixinError;

/// Key suffixes; the longest combination bounds the base key's length.
pub const META_SUFFIX: &str = ":meta";
pub const LOCK_SUFFIX: &str = ":lock";
pub const STABLE_SUFFIX: &str = ":stable";
pub const LONGEST_SUFFIX: usize = STABLE_SUFFIX.len() + META_SUFFIX.len();

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// The token itself, a plain string (what legacy code reads and writes).
    pub token: String,
    /// What is known of the token's life (`entry::Entry::encode`).
    pub meta: String,
    /// The fetch lock, or a failure marker (`lock`).
    pub lock: String,
}

impl Keys {
    /// `base` is the escaped key; stable tokens never share a plain token's keys.
    pub fn new(base: &str, stable: bool) -> Keys {
        let token = if stable { format!("{base}{STABLE_SUFFIX}") } else { base.to_string() };
        Keys { meta: format!("{token}{META_SUFFIX}"), lock: format!("{token}{LOCK_SUFFIX}"), token }
    }
}

/// Builds the memcached key from `weixin.cache_key`, with `{appid}` replaced.
///
/// Bytes memcached's text protocol cannot carry in a key (space, control
/// characters, non-ASCII) and `%` itself are percent-escaped, so a hostile
/// AppID cannot inject commands and distinct inputs stay distinct keys. A key
/// that is already safe (the legacy `access_token`) is used unchanged.
pub fn make_key(template: &str, appid: &str) -> Result<String, WeixinError> {
    let raw = template.replace("{appid}", appid);
    if raw.is_empty() {
        return Err(WeixinError::config("weixin.cache_key is empty"));
    }
    let mut key = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_graphic() && byte != b'%' {
            key.push(byte as char);
        } else {
            key.push_str(&format!("%{byte:02X}"));
        }
    }
    // Room for the suffixes of the companion keys (`:stable:meta`).
    let limit = MAX_KEY_LEN - LONGEST_SUFFIX;
    if key.len() > limit {
        return Err(WeixinError::config(format!(
            "the memcached key is {} bytes after escaping, over the {limit} allowed: shorten weixin.cache_key",
            key.len()
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_keys_are_unchanged() {
        assert_eq!(make_key("access_token", "wx1").unwrap(), "access_token");
        assert_eq!(make_key("wx_{appid}_token", "wx1234").unwrap(), "wx_wx1234_token");
    }

    #[test]
    fn hostile_appids_cannot_inject_commands() {
        let key = make_key("t_{appid}", "x 0 0 1\r\nset evil 0 0 1\r\nA").unwrap();
        assert!(key.bytes().all(|b| b.is_ascii_graphic()), "{key}");
        assert_eq!(key, "t_x%200%200%201%0D%0Aset%20evil%200%200%201%0D%0AA");
    }

    #[test]
    fn escaping_keeps_distinct_inputs_distinct() {
        // '%' is escaped too, so "a b" and a literal "a%20b" differ.
        assert_ne!(make_key("{appid}", "a b").unwrap(), make_key("{appid}", "a%20b").unwrap());
    }

    #[test]
    fn over_long_keys_are_refused() {
        assert!(make_key("{appid}", &"x".repeat(239)).is_err());
        assert!(make_key("{appid}", &"x".repeat(238)).is_ok());
        assert!(make_key("", "wx").is_err());
    }
}
