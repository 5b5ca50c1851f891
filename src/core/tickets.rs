//! JS-SDK tickets (`jsapi`, `wx_card`): asked for with the account's token,
//! and kept by the token's own rules (one upstream request for the fleet,
//! refresh ahead, degraded mode, failure markers) under keys of their own,
//! `KEY:jsapi_ticket` and `KEY:wx_card_ticket`.

use crate::config::HttpOptions;
use crate::config::MAX_KEY_LEN;
use crate::error::WeixinError;
use crate::http::{self, Body};
use crate::secret::Secret;
use crate::token::{FetchedToken, TokenKind, TokenService, Upstream};
use crate::wechat;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketKind {
    Jsapi,
    WxCard,
}

impl TicketKind {
    /// The `type` WeChat takes; anything else is an error naming `$type`.
    pub fn parse(name: &str) -> Result<TicketKind, WeixinError> {
        match name {
            "jsapi" => Ok(TicketKind::Jsapi),
            "wx_card" => Ok(TicketKind::WxCard),
            _ => Err(WeixinError::local(format!(
                "class_weixin::get_ticket(): Argument #1 ($type) must be 'jsapi' or 'wx_card', '{}' given",
                name.escape_default()
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TicketKind::Jsapi => "jsapi",
            TicketKind::WxCard => "wx_card",
        }
    }

    /// The ticket's memcached key, beside the token's (`base`: the key
    /// `weixin.cache_key` gives), with room for its companions.
    pub fn key(self, base: &str) -> Result<String, WeixinError> {
        let key = format!("{base}:{}_ticket", self.name());
        let room = MAX_KEY_LEN - crate::token::LONGEST_SUFFIX;
        if key.len() > room {
            return Err(WeixinError::config(format!(
                "the memcached key of the {} ticket would be {} bytes, over the {room} allowed: shorten weixin.cache_key",
                self.name(),
                key.len()
            )));
        }
        Ok(key)
    }
}

/// Where tickets come from: `GET /cgi-bin/ticket/getticket` with the
/// current token. A reply refusing the token (40001, 40014, 42001) replaces
/// the token (only if nobody has yet) and asks once more.
pub struct TicketApi<'a> {
    pub tokens: &'a TokenService<'a>,
    pub base_url: &'a str,
    pub http: &'a HttpOptions,
    pub kind: TicketKind,
}

impl TicketApi<'_> {
    fn request(&self, token: &str) -> Result<FetchedToken, WeixinError> {
        let url = wechat::ticket_url(self.base_url, token, self.kind.name());
        let reply = http::send(self.http, &url, Body::None)?;
        wechat::parse_ticket_reply(self.kind.name(), reply.status, &reply.body)
    }
}

impl Upstream for TicketApi<'_> {
    /// Every kind is the same request: a ticket has no stable variant.
    fn fetch(&self, _appid: &str, _secret: &Secret, _kind: TokenKind) -> Result<FetchedToken, WeixinError> {
        let token = self.tokens.token()?;
        match self.request(&token) {
            Err(error) if wechat::is_token_rejected(error.code) => {
                let replaced = self.tokens.refresh(&token)?;
                self.request(&replaced)
            }
            outcome => outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_keys() {
        assert_eq!(TicketKind::parse("jsapi").unwrap().key("access_token").unwrap(), "access_token:jsapi_ticket");
        assert_eq!(TicketKind::parse("wx_card").unwrap().key("k").unwrap(), "k:wx_card_ticket");
        let e = TicketKind::parse("card\n").unwrap_err();
        assert!(e.message.contains("$type") && e.message.contains("card\\n"), "{}", e.message);
        let long = "k".repeat(MAX_KEY_LEN - crate::token::LONGEST_SUFFIX - 5);
        assert!(TicketKind::Jsapi.key(&long).unwrap_err().message.contains("weixin.cache_key"));
    }
}
