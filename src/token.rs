//! Getting an access token: from the shared cache, else from WeChat, caching
//! only a good reply. Plain Rust over two small traits, so `cargo test`
//! exercises the rules without PHP, memcached or a network.

use serde_json::Value;

use crate::cache::TokenStore;
use crate::config::Secret;
use crate::error::WeixinError;
use crate::http::{self, Body, HttpOptions};

/// memcached reads an expiry over 30 days as a Unix timestamp.
pub const MAX_RELATIVE_TTL: u64 = 30 * 24 * 3600;

/// What WeChat says when `expires_in` is absent.
const DEFAULT_EXPIRES_IN: u64 = 7200;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedToken {
    pub token: String,
    pub expires_in: u64,
}

/// Where new tokens come from: WeChat in production.
pub trait Upstream {
    fn fetch(&self, appid: &str, secret: &Secret) -> Result<FetchedToken, WeixinError>;
}

/// The token for `key`: the cached one, else a new one from `upstream`,
/// which is cached for [`cache_ttl`] seconds. A failed fetch writes nothing.
/// Cache trouble is reported through `warn` and does not stop the token.
pub fn access_token(
    store: &dyn TokenStore,
    upstream: &dyn Upstream,
    key: &str,
    appid: &str,
    secret: &Secret,
    refresh_margin: u64,
    warn: &mut dyn FnMut(&WeixinError),
) -> Result<String, WeixinError> {
    let cache_up = match store.get(key) {
        Ok(Some(token)) => return Ok(token),
        Ok(None) => true,
        Err(e) => {
            warn(&e);
            false
        }
    };
    let fresh = upstream.fetch(appid, secret)?;
    if cache_up {
        let ttl = cache_ttl(fresh.expires_in, refresh_margin);
        if let Err(e) = store.set(key, &fresh.token, ttl) {
            warn(&e);
        }
    }
    Ok(fresh.token)
}

/// How long a token may sit in memcached: `expires_in - margin`, so that it
/// is gone before it dies. Never 0 (memcached's "forever") or less, never
/// past `expires_in`, never over 30 days (memcached's timestamp threshold).
/// When the margin eats the whole lifetime, half the lifetime is used.
pub fn cache_ttl(expires_in: u64, refresh_margin: u64) -> u32 {
    let lifetime = expires_in.clamp(1, MAX_RELATIVE_TTL);
    let ttl = if refresh_margin < lifetime {
        lifetime - refresh_margin
    } else {
        (lifetime / 2).max(1)
    };
    ttl as u32
}

/// `GET {base}/cgi-bin/token?grant_type=client_credential&appid=..&secret=..`
pub fn token_url(base_url: &str, appid: &str, secret: &Secret) -> String {
    format!(
        "{base_url}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        http::url_encode(appid),
        http::url_encode(secret.expose())
    )
}

/// Reads WeChat's reply to a token request.
pub fn parse_token_reply(status: u16, body: &[u8]) -> Result<FetchedToken, WeixinError> {
    if status != 200 {
        return Err(WeixinError::local(format!(
            "WeChat token request failed: HTTP status {status} (body: {})",
            preview(body)
        )));
    }
    let reply: Value = serde_json::from_slice(body).map_err(|_| {
        WeixinError::local(format!(
            "WeChat token request failed: the reply is not JSON (body: {})",
            preview(body)
        ))
    })?;
    let errcode = reply.get("errcode").and_then(Value::as_i64).unwrap_or(0);
    if errcode != 0 {
        let errmsg = reply.get("errmsg").and_then(Value::as_str).unwrap_or("");
        return Err(WeixinError::wechat(
            errcode,
            format!(
                "WeChat refused the token request: errcode {errcode}, errmsg \"{errmsg}\"{}",
                hint(errcode)
            ),
        ));
    }
    let token = reply
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| crate::cache::as_token(t.as_bytes().to_vec(), 0).is_some())
        .ok_or_else(|| {
            WeixinError::local(format!(
                "WeChat token request failed: the reply has no usable access_token (body: {})",
                preview(body)
            ))
        })?;
    let expires_in = match reply.get("expires_in") {
        None => DEFAULT_EXPIRES_IN,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|&s| s > 0)
            .ok_or_else(|| {
                WeixinError::local(format!(
                    "WeChat token request failed: expires_in is not a positive number ({v})"
                ))
            })?,
    };
    Ok(FetchedToken {
        token: token.to_string(),
        expires_in,
    })
}

/// What to check for the errcodes met on this path.
fn hint(errcode: i64) -> &'static str {
    match errcode {
        -1 => " (WeChat is busy: retry later)",
        40001 | 40125 => " (check the AppSecret)",
        40013 => " (check the AppID)",
        40164 => " (add this server's IP to the account's IP whitelist)",
        45009 => " (the daily quota of token requests is used up)",
        89503 => " (the request needs an administrator's confirmation)",
        _ => "",
    }
}

/// The start of a reply body, printable, for error messages.
fn preview(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(&body[..body.len().min(80)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > 80 {
        format!("'{text}...'")
    } else {
        format!("'{text}'")
    }
}

/// The real token endpoint.
pub struct WeChatApi<'a> {
    pub base_url: &'a str,
    pub http: &'a HttpOptions,
}

impl Upstream for WeChatApi<'_> {
    fn fetch(&self, appid: &str, secret: &Secret) -> Result<FetchedToken, WeixinError> {
        let url = token_url(self.base_url, appid, secret);
        http::send(self.http, &url, Body::None)
            .and_then(|reply| parse_token_reply(reply.status, &reply.body))
            .map_err(|e| e.redact(secret.expose()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[derive(Default)]
    struct MapStore {
        values: RefCell<HashMap<String, (String, u32)>>,
        down: bool,
    }

    impl TokenStore for MapStore {
        fn get(&self, key: &str) -> Result<Option<String>, WeixinError> {
            if self.down {
                return Err(WeixinError::local("down"));
            }
            Ok(self.values.borrow().get(key).map(|(v, _)| v.clone()))
        }
        fn set(&self, key: &str, value: &str, ttl: u32) -> Result<(), WeixinError> {
            if self.down {
                return Err(WeixinError::local("down"));
            }
            self.values.borrow_mut().insert(key.into(), (value.into(), ttl));
            Ok(())
        }
    }

    struct Scripted(RefCell<Vec<Result<FetchedToken, WeixinError>>>, RefCell<u32>);

    impl Upstream for Scripted {
        fn fetch(&self, _: &str, _: &Secret) -> Result<FetchedToken, WeixinError> {
            *self.1.borrow_mut() += 1;
            self.0.borrow_mut().remove(0)
        }
    }

    fn ok(token: &str, expires_in: u64) -> Result<FetchedToken, WeixinError> {
        Ok(FetchedToken { token: token.into(), expires_in })
    }

    fn run(store: &MapStore, upstream: &Scripted) -> (Result<String, WeixinError>, u32) {
        let mut warnings = 0;
        let result = access_token(store, upstream, "k", "wx", &Secret::new("s"), 300, &mut |_| warnings += 1);
        (result, warnings)
    }

    #[test]
    fn a_cached_token_is_used_without_fetching() {
        let store = MapStore::default();
        store.values.borrow_mut().insert("k".into(), ("CACHED".into(), 0));
        let upstream = Scripted(RefCell::new(vec![]), RefCell::new(0));
        assert_eq!(run(&store, &upstream).0.unwrap(), "CACHED");
        assert_eq!(*upstream.1.borrow(), 0);
    }

    #[test]
    fn a_miss_fetches_and_caches_with_the_margin() {
        let store = MapStore::default();
        let upstream = Scripted(RefCell::new(vec![ok("NEW", 7200)]), RefCell::new(0));
        assert_eq!(run(&store, &upstream).0.unwrap(), "NEW");
        assert_eq!(store.values.borrow()["k"], ("NEW".to_string(), 6900));
    }

    #[test]
    fn a_failed_fetch_caches_nothing() {
        let store = MapStore::default();
        let upstream = Scripted(
            RefCell::new(vec![Err(WeixinError::wechat(40013, "invalid appid"))]),
            RefCell::new(0),
        );
        let err = run(&store, &upstream).0.unwrap_err();
        assert_eq!(err.code, 40013);
        assert!(store.values.borrow().is_empty());
    }

    #[test]
    fn a_dead_cache_warns_and_still_serves() {
        let store = MapStore { down: true, ..Default::default() };
        let upstream = Scripted(RefCell::new(vec![ok("NEW", 7200)]), RefCell::new(0));
        let (result, warnings) = run(&store, &upstream);
        assert_eq!(result.unwrap(), "NEW");
        assert_eq!(warnings, 1);
    }

    #[test]
    fn ttl_is_clamped() {
        assert_eq!(cache_ttl(7200, 300), 6900);
        assert_eq!(cache_ttl(300, 300), 150);
        assert_eq!(cache_ttl(200, 300), 100);
        assert_eq!(cache_ttl(1, 300), 1);
        assert_eq!(cache_ttl(0, 300), 1);
        assert_eq!(cache_ttl(7200, 0), 7200);
        assert_eq!(cache_ttl(10_000_000, 300), (MAX_RELATIVE_TTL - 300) as u32);
        for expires in [1, 2, 5, 299, 300, 301, 7200, u64::MAX] {
            for margin in [0, 1, 300, 7200, u64::MAX] {
                let ttl = cache_ttl(expires, margin) as u64;
                assert!(ttl >= 1 && ttl <= expires && ttl <= MAX_RELATIVE_TTL, "{expires} {margin}");
            }
        }
    }

    #[test]
    fn replies_are_parsed_strictly() {
        assert_eq!(
            parse_token_reply(200, br#"{"access_token":"ABC","expires_in":7200}"#).unwrap(),
            FetchedToken { token: "ABC".into(), expires_in: 7200 }
        );
        let e = parse_token_reply(200, br#"{"errcode":40013,"errmsg":"invalid appid"}"#).unwrap_err();
        assert_eq!(e.code, 40013);
        assert!(e.message.contains("invalid appid"));
        for (status, body) in [
            (500, &b"<html>oops</html>"[..]),
            (200, b"not json"),
            (200, br#"{"expires_in":7200}"#),
            (200, br#"{"access_token":"","expires_in":7200}"#),
            (200, br#"{"access_token":"A B","expires_in":7200}"#),
            (200, br#"{"access_token":"ABC","expires_in":-5}"#),
        ] {
            let e = parse_token_reply(status, body).unwrap_err();
            assert_eq!(e.code, 0, "{}", e.message);
        }
    }

    #[test]
    fn token_url_escapes_parameters() {
        let url = token_url("https://h", "wx a&b", &Secret::new("s/c=r"));
        assert_eq!(url, "https://h/cgi-bin/token?grant_type=client_credential&appid=wx%20a%26b&secret=s%2Fc%3Dr");
    }
}
