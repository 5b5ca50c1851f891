//! `class_weixin`: the PHP face of the extension, kept thin.
//!
//! Registered with `ClassBuilder` and no Rust object behind it: `$appid`,
//! `$appsecret` and `$access_token` are ordinary declared PHP properties, so
//! the class behaves like the userland class it replaces (subclass defaults,
//! `serialize`, `clone`, dynamic properties). The methods read and write
//! those properties through the engine's handlers, like PHP code would.

use std::sync::atomic::Ordering;

use ext_php_rs::args::Arg;
use ext_php_rs::builders::{ClassBuilder, ClassProperty, FunctionBuilder};
use ext_php_rs::flags::{DataType, MethodFlags, PropertyFlags};
use ext_php_rs::types::{ZendHashTable, ZendObject, Zval};
use ext_php_rs::zend::ExecuteData;

use crate::credentials::{credentials, optional_string, property, Credential, Unusable};
use crate::exception::{self, guarded};
use crate::php_body::request_body;
use crate::php_reply::PhpReply;
use crate::props::{self, Prop};
use crate::request::{warning, with_warnings};
use crate::zend_ffi::{self, zend_proptable_to_symtable};
use crate::{class_tickets, engine, ini, lazy_class};
use weixin_core::config::Settings;
use weixin_core::error::WeixinError;
use weixin_core::secret::Secret;
use weixin_core::token::TokenService;
use weixin_core::{http, service, stats, wechat};

pub const CLASS_NAME: &str = "class_weixin";
/// The same class under the name a legacy copy extends to become native.
pub const NATIVE_NAME: &str = "class_weixin_native";

/// MINIT: `class_weixin_native`, then `class_weixin` with the same members
/// (not a subclass: nothing about `class_weixin` changes for code that uses
/// it), which waits until code asks for it (`lazy_class`).
pub fn register() -> ext_php_rs::error::Result<()> {
    with_members(ClassBuilder::new(NATIVE_NAME)).registration(finish).register()?;
    with_members(ClassBuilder::new(CLASS_NAME))
        .registration(|class, arg_info| {
            finish(class, arg_info);
            lazy_class::defer(class);
        })
        .register()
}

fn with_members(class: ClassBuilder) -> ClassBuilder {
    let nullable_string = |name: &str| Arg::new(name, DataType::String).allow_null().default("null");
    class
        .property(plain_property("appid"))
        .property(plain_property("appsecret"))
        .property(plain_property("access_token"))
        .method(
            // `mixed ...$ignored`: the legacy constructor ignored extra
            // arguments, and so does this one; without a variadic tail a
            // debug PHP stops at them ("Arginfo / zpp mismatch").
            FunctionBuilder::constructor(construct)
                .not_required()
                .arg(nullable_string("appid"))
                .arg(nullable_string("appsecret"))
                .arg(Arg::new("ignored", DataType::Mixed).is_variadic()),
            MethodFlags::Public,
        )
        .method(
            // Declared `mixed` here, then made untyped (`untype_parameters`),
            // with no return type: the legacy signature that subclasses
            // override as `http_request($url, $data = null)`.
            FunctionBuilder::new("http_request", http_request)
                .arg(Arg::new("url", DataType::Mixed))
                .not_required()
                .arg(Arg::new("data", DataType::Mixed).allow_null().default("null")),
            MethodFlags::Protected,
        )
        .method(
            FunctionBuilder::new("refresh_access_token", refresh_access_token).returns(DataType::String, false, false),
            MethodFlags::Public,
        )
        .method(
            FunctionBuilder::new("get_jsapi_ticket", class_tickets::get_jsapi_ticket).returns(
                DataType::String,
                false,
                false,
            ),
            MethodFlags::Public,
        )
        .method(
            FunctionBuilder::new("get_ticket", class_tickets::get_ticket)
                .not_required()
                .arg(Arg::new("type", DataType::String).default("'jsapi'"))
                .returns(DataType::String, false, false),
            MethodFlags::Public,
        )
        .method(
            FunctionBuilder::new("jssdk_config", class_tickets::jssdk_config)
                .arg(Arg::new("url", DataType::String))
                .not_required()
                .arg(Arg::new("jsApiList", DataType::Array).default("[]"))
                .arg(Arg::new("debug", DataType::Bool).default("false"))
                .arg(Arg::new("openTagList", DataType::Array).default("[]"))
                .returns(DataType::Array, false, false),
            MethodFlags::Public,
        )
        .method(
            FunctionBuilder::new("__debugInfo", debug_info).returns(DataType::Array, false, false),
            MethodFlags::Public,
        )
}

/// What the class builder cannot express (`engine`), and properties that
/// legacy methods add on the fly allowed, for subclasses too.
fn finish(class: &mut ext_php_rs::zend::ClassEntry, arg_info: ext_php_rs::args::ArgInfoTables) {
    props::intern_names();
    engine::untype_parameters(class, "http_request");
    engine::park_arg_info(arg_info);
    engine::mark_secret_parameter(class);
    zend_ffi::allow_dynamic_properties(class);
}

fn plain_property(name: &str) -> ClassProperty {
    ClassProperty {
        name: name.to_string(),
        flags: PropertyFlags::Public,
        default: Some(Box::new(|| Ok(Zval::null()))),
        docs: &[],
        ty: None,
        nullable: true,
        readonly: false,
        default_stub: Some("null".to_string()),
    }
}

/// `public function __construct(?string $appid = null, #[\SensitiveParameter] ?string $appsecret = null, mixed ...$ignored)`
extern "C" fn construct(ex: &mut ExecuteData, _retval: &mut Zval) {
    guarded(|| {
        // Strings and nulls (the usual call) are read as they are; other
        // values go through PHP's parsing first, then are read again.
        let given = match given_credentials(ex) {
            Err(Unusable::NotParsed) if zend_ffi::parse_parameters(ex, zend_ffi::Parameters::Constructor) => {
                given_credentials(ex)
            }
            given => given,
        };
        let Ok((appid_given, secret_given)) = given else { return };
        let Some(this) = ex.get_self() else { return };
        // As in the legacy class: the arguments count only as a pair of
        // non-empty values.
        let given = appid_given.zip(secret_given);
        if let Err(error) = construct_object(this, given) {
            exception::throw(&error);
        }
    });
}

/// `$appid` and `$appsecret` as given, if strings (or null).
fn given_credentials(ex: &ExecuteData) -> Result<(Option<Credential>, Option<Credential>), Unusable> {
    let [appid, secret] = leading_arguments(ex);
    Ok((optional_string(appid, 1, "appid")?, optional_string(secret, 2, "appsecret")?))
}

/// The call's first `N` arguments, read in place (the constructor runs on
/// every construction; the generic parser allocates). Extra arguments are
/// ignored, as the userland constructor this one replaces ignored them.
fn leading_arguments<'a, const N: usize>(ex: &ExecuteData) -> [Option<&'a Zval>; N] {
    // SAFETY: all fields of the `u2` union are the call's argument count.
    let given = unsafe { ex.This.u2.num_args } as usize;
    // SAFETY: the first `given` slots of the frame hold the arguments, which
    // live as long as the call that borrows them.
    std::array::from_fn(|i| if i < given { unsafe { ex.zend_call_arg(i) }.map(|z| &*z) } else { None })
}

fn construct_object(this: &mut ZendObject, given: Option<(Credential, Credential)>) -> Result<(), WeixinError> {
    let settings = ini::current_settings()?;
    let (appid, secret) = credentials(this, &settings, given)?;
    appid.write_to(this, Prop::AppId);
    secret.write_to(this, Prop::AppSecret);
    let secret = Secret::borrowed(secret.as_str());
    let token = with_token_service(&settings, appid.as_str(), &secret, |service| service.token())?;
    props::write_string(this, Prop::AccessToken, &token);
    Ok(())
}

/// Runs `job` on this account's token service, raising memcached trouble as
/// one E_WARNING per request at most: a dead memcached must not flood the
/// logs, and the secret never appears in it. The daily quota warning (once
/// per process, decided by `quota`) is raised when the job is done, on this
/// thread, so that a PHP error handler it runs finds the token rules idle.
fn with_token_service<T>(
    settings: &Settings,
    appid: &str,
    secret: &Secret,
    job: impl FnOnce(&TokenService) -> Result<T, WeixinError>,
) -> Result<T, WeixinError> {
    with_warnings(secret, |warn, quota_warn| {
        service::with_token_service(settings, appid, secret, warn, quota_warn, job)
    })
}

/// `public function refresh_access_token(): string`: after WeChat refused
/// `$this->access_token` (40001, 40014, 42001), gets a new one — shared by
/// every process, fetched only if nobody replaced the bad one already.
extern "C" fn refresh_access_token(ex: &mut ExecuteData, retval: &mut Zval) {
    guarded(|| {
        let (parser, this) = ex.parser_object();
        if parser.parse().is_err() {
            return;
        }
        let Some(this) = this else { return };
        let outcome = ini::current_settings().and_then(|settings| {
            let (appid, secret) = credentials(this, &settings, None)?;
            let bad = property(this, Prop::AccessToken)?;
            let bad = bad.as_ref().map_or("", Credential::as_str);
            let secret = Secret::borrowed(secret.as_str());
            with_token_service(&settings, appid.as_str(), &secret, |service| service.refresh(bad))
        });
        match outcome {
            Ok(token) => {
                props::write_string(this, Prop::AccessToken, &token);
                let _ = retval.set_string(&token, false);
            }
            Err(error) => exception::throw(&error),
        }
    });
}

/// `protected function http_request($url, $data = null)`: GET when `$data` is
/// empty, else POST (a string as the body, an array as multipart/form-data
/// with `CURLFile` uploads). Returns the body, or `false` on a transport
/// failure, like `curl_exec()`, with the reason as a warning (in PHP's
/// error log where a user error handler would take it: it throws nothing).
extern "C" fn http_request(ex: &mut ExecuteData, retval: &mut Zval) {
    guarded(|| {
        let mut url_arg = Arg::new("url", DataType::Mixed);
        let mut data_arg = Arg::new("data", DataType::Mixed);
        let (parser, this) = ex.parser_object();
        if parser.arg(&mut url_arg).not_required().arg(&mut data_arg).parse().is_err() {
            return;
        }
        let url = url_arg.zval().and_then(|z| z.coerce_to_string()).unwrap_or_default();
        let data = data_arg.zval().map(|z| &**z);
        let outcome = ini::current_settings().and_then(|settings| {
            let reply = fetch(&settings, &url, data)?;
            match this {
                Some(this) if settings.auto_refresh => with_token_replaced(this, &settings, &url, data, reply),
                _ => Ok(reply),
            }
        });
        match outcome {
            Ok(reply) => retval.set_zend_string(reply.into_php_string()),
            Err(error) => {
                let secret = ini::current_settings().map(|s| s.appsecret.expose().to_string()).unwrap_or_default();
                warning(&error.redact(&secret).message);
                retval.set_bool(false);
            }
        }
    });
}

/// One request of `http_request()`: its reply read into a PHP string, up
/// to `weixin.max_reply_size` and within `memory_limit`.
fn fetch(settings: &Settings, url: &str, data: Option<&Zval>) -> Result<PhpReply, WeixinError> {
    let mut reply = PhpReply::new(settings.http.reply_limit.bytes);
    http::send_to(&settings.http, url, request_body(data)?, &mut reply)?;
    Ok(reply)
}

/// `http_request()` healing a refused token: when `reply` is WeChat's
/// 40001, 40014 or 42001 for the `access_token` in `url`, and this process
/// handed that token out for the object's account, the token is replaced
/// (only if nobody has yet: one upstream request for the fleet), and the
/// same request is sent once more with the new token, whose reply is
/// returned. WeChat refused the first request before doing anything, so
/// nothing is done twice. Anything else: `reply` as it is.
fn with_token_replaced(
    this: &mut ZendObject,
    settings: &Settings,
    url: &str,
    data: Option<&Zval>,
    reply: PhpReply,
) -> Result<PhpReply, WeixinError> {
    let Some(errcode) = wechat::errcode_of(reply.as_bytes()).filter(|&code| wechat::is_token_rejected(code)) else {
        return Ok(reply);
    };
    let Some(refused) = wechat::access_token_of(url) else { return Ok(reply) };
    let Ok((appid, secret)) = credentials(this, settings, None) else { return Ok(reply) };
    let secret = Secret::borrowed(secret.as_str());
    let replaced = with_token_service(settings, appid.as_str(), &secret, |service| {
        if !service.issued(&refused) {
            return Ok(None);
        }
        service.refresh(&refused).map(Some)
    });
    let token = match replaced {
        Ok(Some(token)) if token != refused => token,
        Ok(_) => return Ok(reply),
        Err(error) => {
            warning(&format!(
                "http_request(): WeChat refused the token (errcode {errcode}) and no new one could be had: {}",
                error.message
            ));
            return Ok(reply);
        }
    };
    // Never send a request a second time while an exception is on its way.
    if zend_ffi::exception_pending() {
        return Ok(reply);
    }
    let Some(again) = wechat::with_access_token(url, &token) else { return Ok(reply) };
    props::write_string(this, Prop::AccessToken, &token);
    stats::TOKEN_RETRIES.fetch_add(1, Ordering::Relaxed);
    // The first reply (a small JSON error) goes first.
    drop(reply);
    fetch(settings, &again, data)
}

/// `public function __debugInfo(): array`: what `var_dump()` and `print_r()`
/// show. The properties as they are, with the AppSecret masked.
extern "C" fn debug_info(ex: &mut ExecuteData, retval: &mut Zval) {
    guarded(|| {
        let Some(this) = ex.get_self() else { return };
        let Ok(properties) = this.get_properties() else { return };
        // SAFETY: a live property table; the function returns a new array
        // (refcount 1) that we own and hand to the return value.
        let mut shown: ext_php_rs::boxed::ZBox<ZendHashTable> = unsafe {
            let copy = zend_proptable_to_symtable(std::ptr::from_ref(properties).cast_mut(), true);
            ext_php_rs::boxed::ZBox::from_raw(copy)
        };
        // The element is replaced in the copy, never written through: it
        // may be a reference the object (or PHP code holding
        // `&$w->appsecret`, or another property) shares.
        let mask = shown.get("appsecret").is_some_and(|secret| secret.dereference().coerce_to_bool());
        if mask {
            let _ = shown.insert("appsecret", Secret::MASK);
        }
        retval.set_hashtable(shown);
    });
}
