//! The `weixin.*` INI settings: their definitions, and their parsing into a
//! [`Settings`] snapshot that the rest of the extension works from.
//!
//! Parsing is plain Rust over a lookup function, so `cargo test` covers it
//! without a PHP engine.

use std::fmt;
use std::time::Duration;

use crate::error::WeixinError;
use crate::secret::Secret;

mod memcached;
mod scope;

pub use memcached::{
    parse_distribution, parse_protocol, parse_servers, MemcacheDistribution, MemcacheProtocol, ServerAddr,
};
pub use scope::{SetByScript, DESTINATIONS};

/// Every INI entry the extension registers: name, default, meaning.
/// The single source for registration, `php --ri weixin` and the docs.
pub const INI_ENTRIES: &[(&str, &str, &str)] = &[
    ("weixin.appid", "", "AppID used when no other source gives one"),
    ("weixin.appsecret", "", "AppSecret used when no other source gives one"),
    ("weixin.memcache_servers", "localhost:11211", "memcached servers, comma-separated host:port or unix:///path"),
    (
        "weixin.memcache_protocol",
        "auto",
        "auto: meta commands where the server has them, classic text commands elsewhere; meta; text",
    ),
    (
        "weixin.memcache_distribution",
        "memcache",
        "which legacy client's placement of keys over several servers: memcache (PECL memcache's consistent ring) \
         or memcached (PECL memcached's default: modula)",
    ),
    ("weixin.cache_key", "access_token", "memcached key of the token; {appid} is replaced by the AppID"),
    ("weixin.api_base_url", "https://api.weixin.qq.com", "base URL of the WeChat API"),
    ("weixin.timeout", "5", "timeout in seconds of http_request() calls"),
    (
        "weixin.max_reply_size",
        "32M",
        "largest reply body http_request() reads (bytes, or with K, M or G), in [1K, 1G]; PHP's memory_limit applies too",
    ),
    (
        "weixin.token_timeout",
        "5",
        "timeout in seconds of a token request (at most 30: it bounds how long others wait for it)",
    ),
    ("weixin.ca_file", "", "extra trusted CA bundle (PEM) on top of the system store"),
    ("weixin.proxy", "", "HTTP(S) proxy URL for every request (empty: none, environment proxies ignored)"),
    ("weixin.refresh_margin", "300", "seconds before expiry at which a token is due for replacement"),
    ("weixin.memcache_timeout", "0.25", "memcached connect/read/write timeout in seconds"),
    ("weixin.local_cache_ttl", "60", "seconds a process reuses a token without asking memcached (0: never)"),
    ("weixin.use_stable_token", "0", "1: use POST /cgi-bin/stable_token instead of GET /cgi-bin/token"),
    (
        "weixin.auto_refresh",
        "1",
        "1: http_request() replaces a token WeChat refused (40001, 40014, 42001) and sends the request once more",
    ),
    (
        "weixin.daily_quota_warning",
        "1600",
        "one E_WARNING per process once the day's GET /cgi-bin/token requests for the AppID (all servers) pass this \
         (stable tokens and tickets are counted apart, never warned; 0: off)",
    ),
];

/// Longest key memcached accepts.
pub const MAX_KEY_LEN: usize = 250;

/// How a request is made. The timeout and the reply's limit are per
/// request; only the CA file and the proxy shape the client (one is kept for
/// each), so token requests and `http_request()` calls share one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    pub timeout: Duration,
    /// The setting that gives `timeout`, named when it is reached.
    pub timeout_setting: &'static str,
    /// The most of a reply's body that is read.
    pub reply_limit: ReplyLimit,
    pub ca_file: Option<String>,
    /// `weixin.proxy`; `None`: no proxy at all (environment proxies ignored).
    pub proxy: Option<ProxySetting>,
}

/// The most of a reply's body that is read, and what sets it (named, with
/// the number, when a reply passes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyLimit {
    pub bytes: u64,
    pub named: &'static str,
}

/// Token and ticket replies are a few hundred bytes of JSON: anything near
/// this is not WeChat answering, and is not read into memory.
pub const TOKEN_REPLY_LIMIT: ReplyLimit = ReplyLimit { bytes: 64 << 10, named: "the limit of a token or ticket reply" };

/// `weixin.max_reply_size`'s range: under 1 KiB not even WeChat's error
/// replies fit; over 1 GiB is past any memory_limit a PHP worker runs with.
const MAX_REPLY_SIZE_RANGE: (u64, u64) = (1 << 10, 1 << 30);

/// The settings one construction works with, read once from INI.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Which reading of the INI entries this is (set by the PHP glue, 0
    /// otherwise): what is derived from the settings is reused while it
    /// stays the same.
    pub generation: u64,
    /// Which settings the running script set itself (set by the PHP glue;
    /// none otherwise).
    pub set_by_script: SetByScript,
    pub appid: String,
    pub appsecret: Secret<'static>,
    pub memcache_servers: Vec<ServerAddr>,
    /// `weixin.memcache_protocol`.
    pub memcache_protocol: MemcacheProtocol,
    /// `weixin.memcache_distribution`.
    pub memcache_distribution: MemcacheDistribution,
    pub cache_key: String,
    pub api_base_url: String,
    /// `weixin.timeout`, `weixin.ca_file` and `weixin.proxy`: `http_request()`.
    pub http: HttpOptions,
    /// `weixin.token_timeout`, `weixin.ca_file` and `weixin.proxy`: the token request.
    pub token_http: HttpOptions,
    pub refresh_margin: u64,
    pub memcache_timeout: Duration,
    pub local_cache_ttl: u64,
    pub use_stable_token: bool,
    /// `weixin.auto_refresh`: `http_request()` heals a refused token.
    pub auto_refresh: bool,
    /// `weixin.daily_quota_warning`: warn once the day's count of
    /// `/cgi-bin/token` requests for the AppID passes it (0: never).
    pub daily_quota_warning: u64,
}

impl Settings {
    /// Reads every setting through `ini` (name → current value).
    pub fn from_lookup(ini: impl Fn(&str) -> Option<String>) -> Result<Settings, WeixinError> {
        let get = |name: &str| -> String { ini(name).unwrap_or_else(|| default_of(name).to_string()) };
        let base = get("weixin.api_base_url").trim().trim_end_matches('/').to_string();
        check_api_base_url(&base)?;
        let ca_file = get("weixin.ca_file").trim().to_string();
        let ca_file = (!ca_file.is_empty()).then_some(ca_file);
        let proxy = parse_proxy(&get("weixin.proxy"))?;
        check_plain_http_stays_local(&base, proxy.as_ref())?;
        Ok(Settings {
            generation: 0,
            set_by_script: SetByScript::default(),
            appid: get("weixin.appid").trim().to_string(),
            appsecret: Secret::new(get("weixin.appsecret").trim()),
            memcache_servers: parse_servers(&get("weixin.memcache_servers"))?,
            memcache_protocol: parse_protocol(&get("weixin.memcache_protocol"))?,
            memcache_distribution: parse_distribution(&get("weixin.memcache_distribution"))?,
            cache_key: get("weixin.cache_key").trim().to_string(),
            api_base_url: base,
            http: HttpOptions {
                timeout: parse_seconds("weixin.timeout", &get("weixin.timeout"))?,
                timeout_setting: "weixin.timeout",
                reply_limit: ReplyLimit {
                    bytes: parse_size("weixin.max_reply_size", &get("weixin.max_reply_size"), MAX_REPLY_SIZE_RANGE)?,
                    named: "weixin.max_reply_size",
                },
                ca_file: ca_file.clone(),
                proxy: proxy.clone(),
            },
            token_http: HttpOptions {
                timeout: parse_seconds_up_to("weixin.token_timeout", &get("weixin.token_timeout"), MAX_TOKEN_TIMEOUT)?,
                timeout_setting: "weixin.token_timeout",
                reply_limit: TOKEN_REPLY_LIMIT,
                ca_file,
                proxy,
            },
            refresh_margin: parse_whole_seconds(
                "weixin.refresh_margin",
                &get("weixin.refresh_margin"),
                MAX_REFRESH_MARGIN,
            )?,
            memcache_timeout: parse_seconds_in(
                "weixin.memcache_timeout",
                &get("weixin.memcache_timeout"),
                MEMCACHE_TIMEOUT_RANGE.0,
                MEMCACHE_TIMEOUT_RANGE.1,
            )?,
            local_cache_ttl: parse_whole_seconds(
                "weixin.local_cache_ttl",
                &get("weixin.local_cache_ttl"),
                MAX_LOCAL_CACHE_TTL,
            )?,
            use_stable_token: parse_switch("weixin.use_stable_token", &get("weixin.use_stable_token"))?,
            auto_refresh: parse_switch("weixin.auto_refresh", &get("weixin.auto_refresh"))?,
            daily_quota_warning: parse_count(
                "weixin.daily_quota_warning",
                &get("weixin.daily_quota_warning"),
                MAX_DAILY_QUOTA_WARNING,
            )?,
        })
    }
}

/// The token URL carries the AppSecret: it goes over HTTPS, or over plain
/// HTTP only to this machine (a local stand-in in tests and demos). Parsed
/// with the parser reqwest itself uses, so the host checked is the host the
/// request goes to; no user info (`http://127.0.0.1@evil/` sends to evil),
/// query or fragment, which would end up in front of or inside the token
/// URL's own query.
fn check_api_base_url(base: &str) -> Result<(), WeixinError> {
    let refuse = |why: &str| WeixinError::config(format!("weixin.api_base_url: {why}, got '{base}'"));
    let url = reqwest::Url::parse(base)
        .map_err(|e| refuse(&format!("must be an https:// URL (or http:// for a local stand-in): {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("no user info (user@ or user:password@) allowed"));
    }
    if url.query().is_some() || url.fragment().is_some() || base.contains(['?', '#']) {
        return Err(refuse("no query (?) or fragment (#) allowed"));
    }
    url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| refuse("the URL has no host"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(refuse(
            "must be https:// (plain http:// only to this machine, for a local stand-in): \
             the token request carries the AppSecret",
        )),
        _ => Err(refuse("must start with https:// (or http:// for a local stand-in)")),
    }
}

/// Whether a parsed URL's host is this machine: `localhost` or a loopback
/// address. The parser has normalised the host (IPv4 in dotted form, IPv6 in
/// brackets, names lowercased).
fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or("");
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || ip.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `weixin.proxy`, parsed: the HTTP(S) proxy every request goes through.
/// Its `Debug` masks the password; messages name it by [`ProxySetting::shown`].
#[derive(Clone, PartialEq, Eq)]
pub struct ProxySetting {
    /// As parsed, user info (percent-encoded) included: what reqwest gets.
    url: reqwest::Url,
    /// `scheme://host:port`: how messages name the proxy.
    shown: String,
    /// The password, as written (percent-encoded) and decoded: what
    /// messages are scrubbed of.
    password: Option<(Secret<'static>, Secret<'static>)>,
    loopback: bool,
}

impl ProxySetting {
    /// The proxy URL with its credentials, for the HTTP client only.
    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// `scheme://host:port`, never the user or password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The setting as `php --ri` shows it: `http://user:********@host:port`.
    pub fn masked(&self) -> String {
        let user = match (self.url.username(), &self.password) {
            ("", None) => String::new(),
            (user, None) => format!("{user}@"),
            (user, Some(_)) => format!("{user}:{}@", Secret::MASK),
        };
        let (scheme, host_port) = self.shown.split_once("://").unwrap_or(("", &self.shown));
        format!("{scheme}://{user}{host_port}")
    }

    /// Masks the password (either form) wherever it appears in `text`.
    pub fn scrub(&self, text: &str) -> String {
        match &self.password {
            Some((raw, decoded)) => crate::secret::redact(&crate::secret::redact(text, decoded.expose()), raw.expose()),
            None => text.to_string(),
        }
    }

    /// What tells this proxy setting apart from another, credentials
    /// included (only ever hashed, into a failure marker's fingerprint).
    pub fn identity(&self) -> &str {
        self.url.as_str()
    }
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxySetting({})", self.masked())
    }
}

/// `weixin.proxy`: empty for none, else `http://[user:password@]host:port`
/// or `https://…`, parsed by the parser reqwest itself uses (the host checked
/// is the host connected to). No path, query or fragment: a value with one
/// is a mistake, not a proxy. The user and password are percent-decoded
/// (by reqwest) and sent as `Proxy-Authorization: Basic`.
pub fn parse_proxy(value: &str) -> Result<Option<ProxySetting>, WeixinError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let refuse = |why: &str| WeixinError::config(format!("weixin.proxy: {why}, got '{}'", mask_user_info(value)));
    let url = reqwest::Url::parse(value).map_err(|e| {
        refuse(&format!("must be the URL of an HTTP proxy, http://host:port or https://host:port: {e}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("must start with http:// or https:// (an HTTP proxy; SOCKS is not supported)"));
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| refuse("the URL has no host"))?;
    if url.path() != "/" {
        return Err(refuse("no path allowed (http://host:port)"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("no query (?) or fragment (#) allowed"));
    }
    if percent_decoded(url.username()).is_none() {
        return Err(refuse("the user name is not UTF-8 once percent-decoded"));
    }
    let password = match url.password() {
        None => None,
        Some(raw) => {
            let decoded =
                percent_decoded(raw).ok_or_else(|| refuse("the password is not UTF-8 once percent-decoded"))?;
            Some((Secret::new(raw), Secret::new(decoded)))
        }
    };
    let port = url.port_or_known_default().ok_or_else(|| refuse("the URL has no port"))?;
    Ok(Some(ProxySetting {
        shown: format!("{}://{host}:{port}", url.scheme()),
        loopback: is_loopback(&url),
        password,
        url,
    }))
}

/// `weixin.proxy` as `php --ri` shows it: the password masked; a value that
/// does not parse loses everything before its last `@` (user info may be
/// anywhere in a broken URL).
pub fn shown_proxy(value: &str) -> String {
    match parse_proxy(value) {
        Ok(Some(proxy)) => proxy.masked(),
        _ => mask_user_info(value.trim()),
    }
}

/// A value that may hold user info, for messages: everything between the
/// scheme and the last `@` masked.
fn mask_user_info(value: &str) -> String {
    match value.rfind('@') {
        None => value.to_string(),
        Some(at) => {
            let start = value[..at].find("://").map_or(0, |i| i + 3);
            format!("{}{}{}", &value[..start], Secret::MASK, &value[at..])
        }
    }
}

/// `%XX` sequences decoded (others left as they are, as reqwest decodes
/// proxy credentials); `None` if the result is not UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match hex.filter(|_| bytes[i] == b'%').and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The token request carries the AppSecret. Over `https://` a proxy only
/// relays an encrypted tunnel (CONNECT); a plain `http://` request goes to
/// the proxy whole, URL and secret included, so a plain-HTTP API base (a
/// local stand-in) may only go through a proxy on this machine too.
fn check_plain_http_stays_local(base: &str, proxy: Option<&ProxySetting>) -> Result<(), WeixinError> {
    let Some(proxy) = proxy.filter(|p| !p.loopback) else {
        return Ok(());
    };
    let plain = reqwest::Url::parse(base).is_ok_and(|url| url.scheme() == "http");
    if !plain {
        return Ok(());
    }
    Err(WeixinError::config(format!(
        "weixin.proxy: the proxy {} is not on this machine and weixin.api_base_url '{base}' is plain \
         http://: the token request carries the AppSecret and would reach the proxy in clear; use an \
         https:// weixin.api_base_url or a proxy on this machine",
        proxy.shown()
    )))
}

/// The registered default of an INI entry ("" for an unknown name).
pub fn default_of(name: &str) -> &'static str {
    INI_ENTRIES.iter().find(|(n, _, _)| *n == name).map_or("", |(_, default, _)| default)
}

fn parse_seconds(name: &str, value: &str) -> Result<Duration, WeixinError> {
    parse_seconds_up_to(name, value, 3600.0)
}

/// A token request holds the fetch lock, and every cold process waits on
/// it: its timeout is bounded.
pub const MAX_TOKEN_TIMEOUT: f64 = 30.0;

/// memcached is a round trip on the local network: under a millisecond no
/// reply can come (every lookup would fail and each process fetch its own
/// token); over ten seconds a stopped server stalls every request that long.
const MEMCACHE_TIMEOUT_RANGE: (f64, f64) = (0.001, 10.0);

/// WeChat keeps a replaced token valid for 5 minutes: a process-local copy
/// kept longer could be a dead token.
const MAX_LOCAL_CACHE_TTL: u64 = 300;

/// A token lives 7200 s; a larger margin would only mean "at half its life".
const MAX_REFRESH_MARGIN: u64 = 7200;

/// WeChat allows 2,000 `/cgi-bin/token` requests a day (more only for
/// accounts whose quota was raised); a threshold past this is a typo.
const MAX_DAILY_QUOTA_WARNING: u64 = 100_000;

fn parse_seconds_up_to(name: &str, value: &str, max: f64) -> Result<Duration, WeixinError> {
    parse_seconds_in(name, value, f64::MIN_POSITIVE, max).map_err(|_| {
        WeixinError::config(format!("{name} must be a number of seconds in (0, {max}], got '{}'", value.trim()))
    })
}

fn parse_seconds_in(name: &str, value: &str, min: f64, max: f64) -> Result<Duration, WeixinError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= min && *s <= max)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            WeixinError::config(format!("{name} must be a number of seconds in [{min}, {max}], got '{}'", value.trim()))
        })
}

/// PHP's INI booleans: 1/0, on/off, yes/no, true/false, or empty.
fn parse_switch(name: &str, value: &str) -> Result<bool, WeixinError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "on" | "yes" | "true" => Ok(true),
        "" | "0" | "off" | "no" | "false" | "none" => Ok(false),
        other => Err(WeixinError::config(format!("{name} must be 0 or 1, got '{other}'"))),
    }
}

fn parse_whole_seconds(name: &str, value: &str, max: u64) -> Result<u64, WeixinError> {
    value.trim().parse::<u64>().ok().filter(|&s| s <= max).ok_or_else(|| {
        WeixinError::config(format!("{name} must be a whole number of seconds in [0, {max}], got '{}'", value.trim()))
    })
}

/// A size as PHP writes one in php.ini (`memory_limit`, `post_max_size`):
/// a whole number of bytes, or of KiB, MiB or GiB with the suffix K, M or G
/// (either case).
fn parse_size(name: &str, value: &str, (min, max): (u64, u64)) -> Result<u64, WeixinError> {
    let text = value.trim();
    let (digits, unit) = match text.as_bytes().last().map(u8::to_ascii_uppercase) {
        Some(b'K') => (&text[..text.len() - 1], 1 << 10),
        Some(b'M') => (&text[..text.len() - 1], 1 << 20),
        Some(b'G') => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    let digits = digits.trim_end();
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse::<u64>().ok())
        .flatten()
        .and_then(|n| n.checked_mul(unit))
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            WeixinError::config(format!(
                "{name} must be a size in bytes, or with K, M or G (512K, 32M), in [{}, {}], got '{text}'",
                shown_size(min),
                shown_size(max)
            ))
        })
}

/// A size as php.ini would write it: 1K, 32M, 1G, or bytes.
fn shown_size(bytes: u64) -> String {
    match bytes {
        0 => "0".into(),
        b if b % (1 << 30) == 0 => format!("{}G", b >> 30),
        b if b % (1 << 20) == 0 => format!("{}M", b >> 20),
        b if b % (1 << 10) == 0 => format!("{}K", b >> 10),
        b => b.to_string(),
    }
}

fn parse_count(name: &str, value: &str, max: u64) -> Result<u64, WeixinError> {
    value.trim().parse::<u64>().ok().filter(|&n| n <= max).ok_or_else(|| {
        WeixinError::config(format!(
            "{name} must be a whole number of token requests in [0, {max}] (0: off), got '{}'",
            value.trim()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, WeixinError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_legacy_class() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.cache_key, "access_token");
        assert_eq!(s.memcache_servers, vec![ServerAddr { host: "localhost".into(), port: 11211 }]);
        assert_eq!(s.api_base_url, "https://api.weixin.qq.com");
        assert_eq!(s.http.timeout, Duration::from_secs(5));
        assert_eq!(s.refresh_margin, 300);
        assert_eq!(s.http.ca_file, None);
        assert_eq!(s.local_cache_ttl, 60);
        assert!(!s.use_stable_token);
        assert_eq!((s.http.proxy, s.token_http.proxy), (None, None));
        assert_eq!(s.daily_quota_warning, 1600, "80% of WeChat's 2,000 a day");
        assert_eq!(s.memcache_distribution, MemcacheDistribution::Memcache, "where PECL memcache puts keys");
    }

    #[test]
    fn switches_read_like_php_ini_booleans() {
        for on in ["1", "On", "yes", "true"] {
            assert!(settings(&[("weixin.use_stable_token", on)]).unwrap().use_stable_token);
        }
        for off in ["0", "off", ""] {
            assert!(!settings(&[("weixin.use_stable_token", off)]).unwrap().use_stable_token);
        }
        assert!(settings(&[("weixin.use_stable_token", "maybe")]).is_err());
    }

    #[test]
    fn numbers_are_validated() {
        assert!(settings(&[("weixin.timeout", "0")]).is_err());
        assert!(settings(&[("weixin.timeout", "abc")]).is_err());
        for bad in ["0", "31", "abc", "-1", "inf"] {
            let error = settings(&[("weixin.token_timeout", bad)]).unwrap_err();
            assert!(
                error.message.contains("weixin.token_timeout") && error.message.contains("(0, 30]"),
                "{}",
                error.message
            );
        }
        let s = settings(&[("weixin.token_timeout", "30"), ("weixin.timeout", "600")]).unwrap();
        assert_eq!((s.token_http.timeout, s.http.timeout), (Duration::from_secs(30), Duration::from_secs(600)));
        assert!(settings(&[("weixin.refresh_margin", "-1")]).is_err());
    }

    #[test]
    fn every_setting_has_a_range_named_in_its_error() {
        for (name, bad, range) in [
            ("weixin.memcache_timeout", "0.0000000001", "[0.001, 10]"),
            ("weixin.memcache_timeout", "11", "[0.001, 10]"),
            ("weixin.local_cache_ttl", "301", "[0, 300]"),
            ("weixin.refresh_margin", "7201", "[0, 7200]"),
            ("weixin.timeout", "3601", "(0, 3600]"),
            ("weixin.token_timeout", "0", "(0, 30]"),
            ("weixin.proxy", "socks5://127.0.0.1:1080", "http:// or https://"),
            ("weixin.daily_quota_warning", "100001", "[0, 100000]"),
            ("weixin.daily_quota_warning", "-1", "[0, 100000]"),
            ("weixin.daily_quota_warning", "80%", "[0, 100000]"),
            ("weixin.max_reply_size", "lots", "[1K, 1G]"),
            ("weixin.max_reply_size", "0", "[1K, 1G]"),
            ("weixin.max_reply_size", "1023", "[1K, 1G]"),
            ("weixin.max_reply_size", "2G", "[1K, 1G]"),
            ("weixin.max_reply_size", "-1", "[1K, 1G]"),
            ("weixin.max_reply_size", "32MB", "[1K, 1G]"),
            ("weixin.max_reply_size", "99999999999999999999K", "[1K, 1G]"),
            ("weixin.max_reply_size", "", "[1K, 1G]"),
        ] {
            let error = settings(&[(name, bad)]).unwrap_err();
            assert!(
                error.message.starts_with(name) && error.message.contains(range),
                "{name}={bad}: {}",
                error.message
            );
        }
        for (name, good) in [
            ("weixin.memcache_timeout", "0.001"),
            ("weixin.memcache_timeout", "10"),
            ("weixin.local_cache_ttl", "300"),
            ("weixin.local_cache_ttl", "0"),
            ("weixin.refresh_margin", "7200"),
            ("weixin.daily_quota_warning", "0"),
            ("weixin.daily_quota_warning", "100000"),
        ] {
            assert!(settings(&[(name, good)]).is_ok(), "{name}={good}");
        }
        let s = settings(&[("weixin.timeout", "0.5")]).unwrap();
        assert_eq!(s.http.timeout, Duration::from_millis(500));
    }

    #[test]
    fn the_reply_size_reads_like_a_php_ini_size() {
        for (value, bytes) in [
            ("32M", 32 << 20),
            ("512K", 512 << 10),
            ("512k", 512 << 10),
            (" 1g ", 1 << 30),
            ("1024", 1024),
            ("2 M", 2 << 20),
        ] {
            let s = settings(&[("weixin.max_reply_size", value)]).unwrap_or_else(|e| panic!("{value}: {}", e.message));
            assert_eq!(s.http.reply_limit, ReplyLimit { bytes, named: "weixin.max_reply_size" }, "{value}");
        }
        let s = settings(&[]).unwrap();
        assert_eq!(s.http.reply_limit.bytes, 32 << 20, "a temporary media download (10 MB) and more");
        assert_eq!(s.token_http.reply_limit, TOKEN_REPLY_LIMIT, "token and ticket replies have their own, small");
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        for ok in ["https://api.weixin.qq.com", "http://127.0.0.1:8080", "http://localhost", "http://[::1]:9/x"] {
            assert!(settings(&[("weixin.api_base_url", ok)]).is_ok(), "{ok}");
        }
        for bad in ["http://api.weixin.qq.com", "http://10.0.0.1:80", "http://127.0.0.1.evil.com", "http://[::2]"] {
            let err = settings(&[("weixin.api_base_url", bad)]).unwrap_err();
            assert!(err.message.contains("AppSecret"), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn a_loopback_lookalike_never_sends_the_secret_elsewhere() {
        // Each of these sends the request to evil.example over plain HTTP
        // once parsed as reqwest parses it.
        for bad in [
            "http://[::1]@evil.example:8080",
            "http://127.0.0.1@evil.example",
            "http://localhost:@evil.example",
            "http://localhost:pw@evil.example",
            "https://user@api.weixin.qq.com",
            "http://127.0.0.1:8080?x=1",
            "http://127.0.0.1:8080/#frag",
            "http://",
            "not a url",
        ] {
            let err = settings(&[("weixin.api_base_url", bad)]).unwrap_err();
            assert!(err.message.starts_with("weixin.api_base_url: "), "{bad}: {}", err.message);
        }
    }

    #[test]
    fn base_url_needs_an_http_scheme_and_loses_its_trailing_slash() {
        assert!(settings(&[("weixin.api_base_url", "ftp://x")]).is_err());
        let s = settings(&[("weixin.api_base_url", "http://127.0.0.1:8080/")]).unwrap();
        assert_eq!(s.api_base_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("topsecret");
        assert_eq!(format!("{s} {s:?}"), "******** ********");
        let all = settings(&[("weixin.appsecret", "topsecret"), ("weixin.proxy", "http://u:proxypass@127.0.0.1:3128")])
            .unwrap();
        let shown = format!("{all:?}");
        assert!(!shown.contains("topsecret") && !shown.contains("proxypass"), "{shown}");
        assert!(shown.contains("http://u:********@127.0.0.1:3128"), "{shown}");
    }

    fn proxy(value: &str) -> ProxySetting {
        let s = settings(&[("weixin.proxy", value)]).unwrap_or_else(|e| panic!("{value}: {}", e.message));
        assert_eq!(s.http.proxy, s.token_http.proxy, "both kinds of request use it");
        s.http.proxy.unwrap()
    }

    #[test]
    fn proxies_parse_with_the_url_parser_and_are_shown_without_password() {
        assert_eq!(settings(&[("weixin.proxy", "  ")]).unwrap().http.proxy, None);
        for (value, shown, masked) in [
            ("http://127.0.0.1:3128", "http://127.0.0.1:3128", "http://127.0.0.1:3128"),
            (" http://proxy.example:8080/ ", "http://proxy.example:8080", "http://proxy.example:8080"),
            ("https://PROXY.example", "https://proxy.example:443", "https://proxy.example:443"),
            ("http://[::1]:3128", "http://[::1]:3128", "http://[::1]:3128"),
            ("http://bob@10.0.0.1:3128", "http://10.0.0.1:3128", "http://bob@10.0.0.1:3128"),
            ("http://bob:pa%40ss@10.0.0.1:3128", "http://10.0.0.1:3128", "http://bob:********@10.0.0.1:3128"),
            // The last @ ends the user info, as for reqwest.
            ("http://bob:p@ss@10.0.0.1:3128", "http://10.0.0.1:3128", "http://bob:********@10.0.0.1:3128"),
        ] {
            let p = proxy(value);
            assert_eq!((p.shown(), p.masked().as_str()), (shown, masked), "{value}");
            assert_eq!(shown_proxy(value), masked);
        }
    }

    #[test]
    fn a_proxy_password_is_scrubbed_in_both_forms() {
        let p = proxy("http://bob:s%3Acr%40t!x@127.0.0.1:3128");
        let text = "a s:cr@t!x b s%3Acr%40t!x c s%3Acr%40t%21x";
        assert_eq!(p.scrub(text), "a ******** b ******** c ********");
        assert_eq!(proxy("http://127.0.0.1:1").scrub(text), text);
    }

    #[test]
    fn bad_proxies_are_named_and_their_password_never_shown() {
        for bad in [
            "127.0.0.1:3128",
            "proxy.example",
            "socks5://127.0.0.1:1080",
            "ftp://127.0.0.1:21",
            "http://",
            "http://:3128",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:3128/path",
            "http://127.0.0.1:3128?x=1",
            "http://127.0.0.1:3128/#frag",
            "http://bob:HIDDENPW@127.0.0.1:3128/path",
            "http://bob:HIDDENPW@127.0.0.1:3128?q",
            "http://bob:HIDDEN/PW@127.0.0.1:3128",
            "http://bob:HIDDEN#PW@127.0.0.1:3128",
            "bob:HIDDENPW@127.0.0.1:3128",
            "http://bob:%FFHIDDENPW@127.0.0.1:3128",
            "http://bob:HIDDENPW@",
        ] {
            let err = settings(&[("weixin.proxy", bad)]).unwrap_err();
            assert!(err.message.starts_with("weixin.proxy: "), "{bad}: {}", err.message);
            assert!(!err.message.contains("HIDDEN") && !err.message.contains("PW@"), "{bad}: {}", err.message);
            assert!(!shown_proxy(bad).contains("HIDDEN"), "{bad}: {}", shown_proxy(bad));
        }
    }

    #[test]
    fn plain_http_to_the_api_never_goes_through_a_proxy_elsewhere() {
        let local = ("weixin.api_base_url", "http://127.0.0.1:8080");
        for remote in ["http://10.0.0.1:3128", "https://proxy.example", "http://u:pw@127.0.0.1.evil:3128"] {
            let err = settings(&[local, ("weixin.proxy", remote)]).unwrap_err();
            assert!(
                err.message.starts_with("weixin.proxy: ") && err.message.contains("weixin.api_base_url"),
                "{remote}: {}",
                err.message
            );
            assert!(err.message.contains("AppSecret") && !err.message.contains("pw@"), "{remote}: {}", err.message);
        }
        // A proxy on this machine, or an encrypted API base (the proxy
        // only relays a CONNECT tunnel), is fine.
        for local_proxy in ["http://127.0.0.1:3128", "http://localhost:3128", "https://[::1]:3128"] {
            assert!(settings(&[local, ("weixin.proxy", local_proxy)]).is_ok(), "{local_proxy}");
        }
        assert!(settings(&[("weixin.proxy", "http://10.0.0.1:3128")]).is_ok());
    }
}
