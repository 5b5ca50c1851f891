//! WeChat's token and ticket endpoints: building the request, reading the
//! reply; which errcodes mean "this token is no longer good".
//!
//! `GET /cgi-bin/token` (each call invalidates the previous token) or, with
//! `weixin.use_stable_token`, `POST /cgi-bin/stable_token` (tokens survive
//! other calls; `force_refresh` is limited to 20 a day, so only an explicit
//! `refresh_access_token()` may use it).

use serde_json::Value;

use crate::config::HttpOptions;
use crate::error::WeixinError;
use crate::http::{self, Body};
use crate::secret::{url_encode, Secret};
use crate::token::{FetchedToken, TokenKind, Upstream};

/// The errcodes by which an API refuses a token that is no longer current
/// (40001: replaced or invalid, 40014: malformed, 42001: expired).
pub const TOKEN_REJECTED: [i64; 3] = [40001, 40014, 42001];

pub fn is_token_rejected(errcode: i64) -> bool {
    TOKEN_REJECTED.contains(&errcode)
}

/// The `errcode` of a JSON reply body, if it is a JSON object with one.
pub fn errcode_of(body: &[u8]) -> Option<i64> {
    // Only replies that can be WeChat errors are parsed (the API's error
    // replies are small JSON objects).
    if body.len() > 4096 || !body.trim_ascii_start().starts_with(b"{") {
        return None;
    }
    serde_json::from_slice::<Value>(body).ok()?.get("errcode")?.as_i64()
}

/// The `access_token` query parameter of an API URL (parsed with the URL
/// parser reqwest uses; `None` without one, or for two different ones).
pub fn access_token_of(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let mut tokens = parsed.query_pairs().filter(|(name, _)| name == "access_token").map(|(_, value)| value);
    let first = tokens.next()?;
    tokens.all(|other| other == first).then(|| first.into_owned())
}

/// `url` with `token` as its `access_token` parameter, every other byte of
/// it unchanged; `None` if the parameter is not written literally as
/// `access_token=` (then nothing is replaced).
pub fn with_access_token(url: &str, token: &str) -> Option<String> {
    let mut parsed = reqwest::Url::parse(url).ok()?;
    let mut replaced = false;
    let query: Vec<String> = parsed
        .query()?
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("access_token", _)) => {
                replaced = true;
                format!("access_token={}", url_encode(token))
            }
            _ => pair.to_string(),
        })
        .collect();
    if !replaced {
        return None;
    }
    parsed.set_query(Some(&query.join("&")));
    Some(parsed.into())
}

/// What WeChat says when `expires_in` is absent.
const DEFAULT_EXPIRES_IN: u64 = 7200;

/// `GET {base}/cgi-bin/token?grant_type=client_credential&appid=..&secret=..`
pub fn token_url(base_url: &str, appid: &str, secret: &Secret) -> String {
    format!(
        "{base_url}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        url_encode(appid),
        url_encode(secret.expose())
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
        WeixinError::local(format!("WeChat token request failed: the reply is not JSON (body: {})", preview(body)))
    })?;
    let errcode = reply.get("errcode").and_then(Value::as_i64).unwrap_or(0);
    if errcode != 0 {
        let errmsg = reply.get("errmsg").and_then(Value::as_str).unwrap_or("");
        return Err(WeixinError::wechat(
            errcode,
            format!("WeChat refused the token request: errcode {errcode}, errmsg \"{errmsg}\"{}", hint(errcode)),
        ));
    }
    let token =
        reply.get("access_token").and_then(Value::as_str).filter(|t| crate::token::is_token(t)).ok_or_else(|| {
            WeixinError::local(format!(
                "WeChat token request failed: the reply has no usable access_token (body: {})",
                preview(body)
            ))
        })?;
    let expires_in = match reply.get("expires_in") {
        None => DEFAULT_EXPIRES_IN,
        Some(v) => {
            v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).filter(|&s| s > 0).ok_or_else(|| {
                WeixinError::local(format!("WeChat token request failed: expires_in is not a positive number ({v})"))
            })?
        }
    };
    Ok(FetchedToken { token: token.to_string(), expires_in })
}

/// `GET {base}/cgi-bin/ticket/getticket?access_token=..&type=..`
pub fn ticket_url(base_url: &str, token: &str, kind: &str) -> String {
    format!("{base_url}/cgi-bin/ticket/getticket?access_token={}&type={}", url_encode(token), url_encode(kind))
}

/// Reads WeChat's reply to a ticket request: the ticket as a token of its
/// own kind (`{"errcode":0,"errmsg":"ok","ticket":"..","expires_in":7200}`).
pub fn parse_ticket_reply(kind: &str, status: u16, body: &[u8]) -> Result<FetchedToken, WeixinError> {
    let what = format!("WeChat {kind} ticket request");
    if status != 200 {
        return Err(WeixinError::local(format!("{what} failed: HTTP status {status} (body: {})", preview(body))));
    }
    let reply: Value = serde_json::from_slice(body)
        .map_err(|_| WeixinError::local(format!("{what} failed: the reply is not JSON (body: {})", preview(body))))?;
    let errcode = reply.get("errcode").and_then(Value::as_i64).unwrap_or(0);
    if errcode != 0 {
        let errmsg = reply.get("errmsg").and_then(Value::as_str).unwrap_or("");
        return Err(WeixinError::wechat(
            errcode,
            format!(
                "WeChat refused the {kind} ticket request: errcode {errcode}, errmsg \"{errmsg}\"{}",
                hint(errcode)
            ),
        ));
    }
    let ticket =
        reply.get("ticket").and_then(Value::as_str).filter(|t| crate::token::is_token(t)).ok_or_else(|| {
            WeixinError::local(format!("{what} failed: the reply has no usable ticket (body: {})", preview(body)))
        })?;
    let expires_in = reply
        .get("expires_in")
        .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .filter(|&s| s > 0)
        .unwrap_or(DEFAULT_EXPIRES_IN);
    Ok(FetchedToken { token: ticket.to_string(), expires_in })
}

/// Our own failures of the token request say where to look, unless they
/// already name a setting (timeout, CA file, proxy).
fn with_hint(mut error: WeixinError, options: &HttpOptions) -> WeixinError {
    if error.code == 0 && !error.message.contains("weixin.") {
        match &options.proxy {
            Some(proxy) => error.message.push_str(&format!(
                " (check weixin.api_base_url, the proxy {} of weixin.proxy and this server's network)",
                proxy.shown()
            )),
            None => error.message.push_str(" (check weixin.api_base_url and this server's network)"),
        }
    }
    error
}

/// A plain-HTTP request through a proxy that wants credentials gets the
/// proxy's own 407 reply: that is the proxy's refusal, not WeChat's.
fn proxy_refusal(status: u16, options: &HttpOptions) -> Option<WeixinError> {
    let proxy = options.proxy.as_ref().filter(|_| status == 407)?;
    Some(WeixinError::local(format!(
        "WeChat token request failed: the proxy {} (weixin.proxy) answered HTTP status 407: \
         it wants a user and password, or refused those of weixin.proxy",
        proxy.shown()
    )))
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

/// The real token endpoints.
pub struct WeChatApi<'a> {
    pub base_url: &'a str,
    pub http: &'a HttpOptions,
}

impl Upstream for WeChatApi<'_> {
    fn fetch(&self, appid: &str, secret: &Secret, kind: TokenKind) -> Result<FetchedToken, WeixinError> {
        let reply = if let TokenKind::Stable { force: force_refresh } = kind {
            let body = serde_json::json!({
                "grant_type": "client_credential",
                "appid": appid,
                "secret": secret.expose(),
                "force_refresh": force_refresh,
            });
            let url = format!("{}/cgi-bin/stable_token", self.base_url);
            http::send(self.http, &url, Body::Json(body.to_string().into_bytes()))
        } else {
            http::send(self.http, &token_url(self.base_url, appid, secret), Body::None)
        };
        reply
            .and_then(|reply| match proxy_refusal(reply.status, self.http) {
                Some(refusal) => Err(refusal),
                None => parse_token_reply(reply.status, &reply.body),
            })
            .map_err(|e| {
                let e = with_hint(e, self.http);
                WeixinError { message: http::scrub(self.http, &e.message), ..e }.redact(secret.expose())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn ticket_replies_are_parsed_strictly() {
        let ok = parse_ticket_reply("jsapi", 200, br#"{"errcode":0,"errmsg":"ok","ticket":"T-1_x","expires_in":7200}"#);
        assert_eq!(ok.unwrap(), FetchedToken { token: "T-1_x".into(), expires_in: 7200 });
        let e = parse_ticket_reply("jsapi", 200, br#"{"errcode":40001,"errmsg":"invalid credential"}"#).unwrap_err();
        assert_eq!(e.code, 40001);
        assert!(is_token_rejected(e.code));
        assert!(e.message.contains("jsapi ticket"), "{}", e.message);
        for (status, body) in [(502, &b"<html>"[..]), (200, b"{}"), (200, br#"{"errcode":0,"ticket":"a b"}"#)] {
            assert_eq!(parse_ticket_reply("wx_card", status, body).unwrap_err().code, 0);
        }
    }

    #[test]
    fn the_token_of_an_api_url_is_found_and_replaced_leaving_the_rest_alone() {
        let url = "https://api.weixin.qq.com/cgi-bin/user/info?openid=o%2Bx&access_token=OLD&lang=zh_CN#f";
        assert_eq!(access_token_of(url).as_deref(), Some("OLD"));
        assert_eq!(
            with_access_token(url, "NEW-1_x").as_deref(),
            Some("https://api.weixin.qq.com/cgi-bin/user/info?openid=o%2Bx&access_token=NEW-1_x&lang=zh_CN#f")
        );
        assert_eq!(access_token_of("https://h/p?token=x"), None);
        assert_eq!(access_token_of("https://h/p"), None);
        assert_eq!(access_token_of("not a url"), None);
        assert_eq!(access_token_of("https://h/p?access_token=A&access_token=B"), None, "ambiguous");
        assert_eq!(access_token_of("https://h/p?access_%74oken=A").as_deref(), Some("A"));
        assert_eq!(with_access_token("https://h/p?access_%74oken=A", "B"), None, "not written literally");
    }

    #[test]
    fn errcodes_are_read_only_from_json_objects() {
        assert_eq!(errcode_of(br#" {"errcode":40001,"errmsg":"x"}"#), Some(40001));
        assert_eq!(errcode_of(br#"{"errcode":0}"#), Some(0));
        assert_eq!(errcode_of(br#"{"ip_list":[]}"#), None);
        assert_eq!(errcode_of(b"errcode 40001"), None);
        assert_eq!(errcode_of(br#"["errcode",40001]"#), None);
        assert!(!is_token_rejected(40164) && !is_token_rejected(45009) && !is_token_rejected(-1));
    }

    #[test]
    fn token_url_escapes_parameters() {
        let url = token_url("https://h", "wx a&b", &Secret::new("s/c=r"));
        assert_eq!(url, "https://h/cgi-bin/token?grant_type=client_credential&appid=wx%20a%26b&secret=s%2Fc%3Dr");
    }
}
