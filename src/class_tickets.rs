//! `class_weixin`'s JS-SDK methods: the tickets and `wx.config()`'s
//! signed configuration. The ticket rules are the token's (`tickets`,
//! `service`); the signature is `jssdk`'s.

use std::time::{SystemTime, UNIX_EPOCH};

use ext_php_rs::args::Arg;
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendHashTable, ZendObject, Zval};
use ext_php_rs::zend::ExecuteData;

use crate::credentials::credentials;
use crate::exception::guarded;
use crate::request::with_warnings;
use crate::zend_ffi::{self, Parameters};
use crate::{exception, ini};
use weixin_core::error::WeixinError;
use weixin_core::secret::Secret;
use weixin_core::tickets::TicketKind;
use weixin_core::{jssdk, random, service};

/// `public function get_jsapi_ticket(): string`
pub extern "C" fn get_jsapi_ticket(ex: &mut ExecuteData, retval: &mut Zval) {
    guarded(|| {
        let (parser, this) = ex.parser_object();
        if parser.parse().is_err() {
            return;
        }
        let Some(this) = this else { return };
        answer_ticket(this, Ok(TicketKind::Jsapi), retval);
    });
}

/// `public function get_ticket(string $type = 'jsapi'): string` (`jsapi`
/// or `wx_card`)
pub extern "C" fn get_ticket(ex: &mut ExecuteData, retval: &mut Zval) {
    guarded(|| {
        if !zend_ffi::parse_parameters(ex, Parameters::GetTicket) {
            return;
        }
        let mut type_arg = Arg::new("type", DataType::String);
        let (parser, this) = ex.parser_object();
        if parser.not_required().arg(&mut type_arg).parse().is_err() {
            return;
        }
        let Some(this) = this else { return };
        let kind = type_arg.val::<String>().unwrap_or_else(|| "jsapi".into());
        answer_ticket(this, TicketKind::parse(&kind), retval);
    });
}

/// The return value of the ticket methods: the account's ticket of `kind`,
/// or a `WeixinException`.
fn answer_ticket(this: &ZendObject, kind: Result<TicketKind, WeixinError>, retval: &mut Zval) {
    match kind.and_then(|kind| ticket(this, kind)) {
        Ok(ticket) => {
            let _ = retval.set_string(&ticket, false);
        }
        Err(error) => exception::throw(&error),
    }
}

/// `public function jssdk_config(string $url, array $jsApiList = [], bool
/// $debug = false, array $openTagList = []): array`: what `wx.config()`
/// takes, signed for the page at `$url`. The ticket is not in it.
pub extern "C" fn jssdk_config(ex: &mut ExecuteData, retval: &mut Zval) {
    guarded(|| {
        let Some(debug) = zend_ffi::parse_jssdk_config(ex) else { return };
        let mut url_arg = Arg::new("url", DataType::String);
        let mut apis_arg = Arg::new("jsApiList", DataType::Array);
        let mut debug_arg = Arg::new("debug", DataType::Bool);
        let mut tags_arg = Arg::new("openTagList", DataType::Array);
        let (parser, this) = ex.parser_object();
        let parsed =
            parser.arg(&mut url_arg).not_required().arg(&mut apis_arg).arg(&mut debug_arg).arg(&mut tags_arg).parse();
        if parsed.is_err() {
            return;
        }
        let Some(this) = this else { return };
        let url = url_arg.val::<String>().unwrap_or_default();
        let list = |arg: &mut Arg| {
            arg.zval().map_or_else(
                || {
                    let mut empty = Zval::new();
                    empty.set_hashtable(ZendHashTable::new());
                    empty
                },
                |given| given.dereference().shallow_clone(),
            )
        };
        match config(this, &url, debug) {
            Ok(mut config) => {
                let _ = config.insert("jsApiList", list(&mut apis_arg));
                let _ = config.insert("openTagList", list(&mut tags_arg));
                retval.set_hashtable(config);
            }
            Err(error) => exception::throw(&error),
        }
    });
}

fn config(this: &ZendObject, url: &str, debug: bool) -> Result<ext_php_rs::boxed::ZBox<ZendHashTable>, WeixinError> {
    if url.is_empty() {
        return Err(WeixinError::local(
            "class_weixin::jssdk_config(): Argument #1 ($url) is empty: pass the page's full URL",
        ));
    }
    let settings = ini::current_settings()?;
    let (appid, secret) = credentials(this, &settings, None)?;
    let secret = Secret::borrowed(secret.as_str());
    let ticket = with_warnings(&secret, |warn, quota_warn| {
        service::with_ticket_service(&settings, appid.as_str(), &secret, TicketKind::Jsapi, warn, quota_warn, |s| {
            s.token()
        })
    })?;
    let nonce = jssdk::nonce(random::fill)?;
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let signature = jssdk::signature(&ticket, &nonce, timestamp, url);
    let mut config = ZendHashTable::new();
    let failed = |_| WeixinError::local("cannot build the configuration array");
    config.insert("debug", debug).map_err(failed)?;
    config.insert("appId", appid.as_str()).map_err(failed)?;
    config.insert("timestamp", i64::try_from(timestamp).unwrap_or(i64::MAX)).map_err(failed)?;
    config.insert("nonceStr", nonce.as_str()).map_err(failed)?;
    config.insert("signature", signature.as_str()).map_err(failed)?;
    Ok(config)
}

/// The account's ticket of `kind`, by the token's rules.
fn ticket(this: &ZendObject, kind: TicketKind) -> Result<String, WeixinError> {
    let settings = ini::current_settings()?;
    let (appid, secret) = credentials(this, &settings, None)?;
    let secret = Secret::borrowed(secret.as_str());
    with_warnings(&secret, |warn, quota_warn| {
        service::with_ticket_service(&settings, appid.as_str(), &secret, kind, warn, quota_warn, |s| s.token())
    })
}
