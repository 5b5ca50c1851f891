//! What `KEY:lock` holds: a fetch in progress, or a failure marker, each
//! with its own deadline written into it, so a waiter can tell a lock that
//! outlived its holder from one still in use, whatever TTL memcached was
//! given (by an older version, or a process with other settings).
//!
//! * `wx2 fetch <hold> <id>`: a process is fetching and finishes within
//!   `<hold>` seconds.
//! * `wx2 fail <cold|ahead> <hold> <fingerprint> <id> <errcode> <message>`:
//!   a token request failed; nobody retries for `<hold>` seconds. `cold`: no
//!   token existed (waiters report the error); `ahead`: a refresh of a
//!   still-valid token failed (retries are spaced). The fingerprint says
//!   whose failure it is, so that only processes with the same credentials
//!   and upstream adopt it.
//!
//! Every value is unique (its `<id>`), so a waiter that sees one value for
//! longer than its hold knows it is one lock, not two alike.
//!
//! Anything else (older versions' values) is a lock held by someone, whose
//! deadline is the reader's own hold.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::WeixinError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No token existed: waiters report the error.
    Cold,
    /// A refresh of a still-valid token failed: retries are spaced.
    Ahead,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockValue {
    Fetching {
        hold: u32,
    },
    Failed {
        kind: Failure,
        hold: u32,
        fingerprint: String,
        error: WeixinError,
    },
    /// Written by something else (an older version): held.
    Foreign,
}

pub fn fetching(hold: u32, id: &str) -> String {
    format!("wx2 fetch {hold} {id}")
}

pub fn failed(kind: Failure, hold: u32, fingerprint: &str, id: &str, error: &WeixinError) -> String {
    let kind = match kind {
        Failure::Cold => "cold",
        Failure::Ahead => "ahead",
    };
    let message = error.message.replace(['\r', '\n'], " ");
    format!("wx2 fail {kind} {hold} {fingerprint} {id} {} {message}", error.code)
}

pub fn parse(value: &str) -> LockValue {
    parse_known(value).unwrap_or(LockValue::Foreign)
}

fn parse_known(value: &str) -> Option<LockValue> {
    let mut fields = value.splitn(8, ' ');
    if fields.next()? != "wx2" {
        return None;
    }
    match fields.next()? {
        "fetch" => {
            let hold = fields.next()?.parse().ok()?;
            fields.next()?; // the holder's id
            fields.next().is_none().then_some(LockValue::Fetching { hold })
        }
        "fail" => {
            let kind = match fields.next()? {
                "cold" => Failure::Cold,
                "ahead" => Failure::Ahead,
                _ => return None,
            };
            let hold = fields.next()?.parse().ok()?;
            let fingerprint = fields.next()?.to_string();
            fields.next()?; // the marker's id
            let code = fields.next()?.parse().ok()?;
            let message = fields.next().unwrap_or("");
            let error = WeixinError::wechat(
                code,
                format!("{message} (a token request for this key failed moments ago; the next one is made in a few seconds)"),
            );
            Some(LockValue::Failed { kind, hold, fingerprint, error })
        }
        _ => None,
    }
}

/// A lock id no other process (on any machine) can produce.
pub fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static HOST: OnceLock<String> = OnceLock::new();
    let host = HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into())
            .chars()
            .filter(char::is_ascii_graphic)
            .collect()
    });
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{host}:{}:{nanos}:{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Whose failure a marker is: 16 hex digits of a hash of the AppID, the
/// AppSecret and the upstream (API base URL, CA setting). Not the secret:
/// 64 bits of a stable non-cryptographic hash (FNV-1a) give nothing back of
/// a 32-character secret, and stay the same across builds and machines.
pub fn fingerprint(appid: &str, secret: &str, upstream: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [appid, secret, upstream] {
        for byte in part.bytes().chain([0u8]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        assert_eq!(parse(&fetching(7, "h:1:2:3")), LockValue::Fetching { hold: 7 });
        let error = WeixinError::wechat(40125, "invalid appsecret\r\nrid: x");
        match parse(&failed(Failure::Ahead, 30, "00ff00ff00ff00ff", "h:1:2:3", &error)) {
            LockValue::Failed { kind, hold, fingerprint, error } => {
                assert_eq!(
                    (kind, hold, fingerprint.as_str(), error.code),
                    (Failure::Ahead, 30, "00ff00ff00ff00ff", 40125)
                );
                assert!(error.message.starts_with("invalid appsecret  rid: x (a token request"), "{}", error.message);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn older_and_garbled_values_are_foreign() {
        for value in [
            "fetching host:1:2:3",
            "failed 40125 invalid appsecret",
            "wx2 fetch x id",
            "wx2 fail warm 2 ff id 1 m",
            "wx2 fail cold 2 ff 1 m",
            "",
            "wx2",
        ] {
            assert_eq!(parse(value), LockValue::Foreign, "{value:?}");
        }
    }

    #[test]
    fn fingerprints_tell_credentials_and_upstreams_apart_and_hide_the_secret() {
        let base = fingerprint("wx1", "secret-one-0123456789abcdef", "https://api.weixin.qq.com|");
        assert_eq!(base.len(), 16);
        assert_eq!(base, fingerprint("wx1", "secret-one-0123456789abcdef", "https://api.weixin.qq.com|"));
        assert_ne!(base, fingerprint("wx1", "secret-two-0123456789abcdef", "https://api.weixin.qq.com|"));
        assert_ne!(base, fingerprint("wx2", "secret-one-0123456789abcdef", "https://api.weixin.qq.com|"));
        assert_ne!(base, fingerprint("wx1", "secret-one-0123456789abcdef", "https://api.weixin.qq.com|/ca.pem"));
        // Field boundaries count: ("ab", "c") is not ("a", "bc").
        assert_ne!(fingerprint("ab", "c", ""), fingerprint("a", "bc", ""));
        assert!(!base.contains("secret"));
    }
}
