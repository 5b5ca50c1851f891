//! The memcached keys of one token: the plain key legacy code reads, and
//! the companions only this extension uses.

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
        Keys {
            meta: format!("{token}{META_SUFFIX}"),
            lock: format!("{token}{LOCK_SUFFIX}"),
            token,
        }
    }
}
