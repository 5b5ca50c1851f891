//! `class_weixin`: the PHP face of the extension, kept thin.
//!
//! Registered with `ClassBuilder` and no Rust object behind it: `$appid`,
//! `$appsecret` and `$access_token` are ordinary declared PHP properties, so
//! the class behaves like the userland class it replaces (subclass defaults,
//! `serialize`, `clone`, dynamic properties). The methods read and write
//! those properties through the engine's handlers, like PHP code would.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;

use ext_php_rs::args::Arg;
use ext_php_rs::builders::{ClassBuilder, ClassProperty, FunctionBuilder};
use ext_php_rs::flags::{DataType, ErrorType, MethodFlags, PropertyFlags};
use ext_php_rs::types::{ZendHashTable, ZendObject, ZendStr, Zval};
use ext_php_rs::zend::{ClassEntry, ExecuteData};

use crate::config::{Secret, Settings};
use crate::error::WeixinError;
use crate::http::{self, Body, FormField};
use crate::props::{self, Prop};
use crate::token::TokenService;
use crate::zend_ffi::{self, zend_get_constant_str, zend_proptable_to_symtable};
use crate::{class_tickets, exception, ini, service, stats, wechat};

pub const CLASS_NAME: &str = "class_weixin";

pub fn register() -> ext_php_rs::error::Result<()> {
    let nullable_string = |name: &str| Arg::new(name, DataType::String).allow_null().default("null");
    ClassBuilder::new(CLASS_NAME)
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
            FunctionBuilder::new("refresh_access_token", refresh_access_token)
                .returns(DataType::String, false, false),
            MethodFlags::Public,
        )
        .method(
            FunctionBuilder::new("get_jsapi_ticket", class_tickets::get_jsapi_ticket)
                .returns(DataType::String, false, false),
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
        .registration(|class, arg_info| {
            props::intern_names();
            untype_parameters(class, "http_request");
            crate::park_arg_info(arg_info);
            mark_secret_parameter(class);
        })
        .register()
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

/// Removes the declared types of a method's parameters, as in the userland
/// original (the builder can only declare `mixed`).
fn untype_parameters(class: &mut ClassEntry, method: &str) {
    // The type bits of a `zend_type`, as this PHP's headers define them.
    let type_bits = zend_ffi::type_mask();
    // SAFETY: MINIT, the method was just registered into the class's own
    // table. Its `arg_info` is the engine's own copy of the table (made
    // because the method had types); the engine frees that copy at shutdown
    // because the method keeps its "has type hints" flag, which is left set.
    unsafe {
        let function = ext_php_rs::ffi::zend_hash_str_find_ptr_lc(
            &raw const class.function_table,
            method.as_ptr().cast(),
            method.len(),
        )
        .cast::<ext_php_rs::ffi::zend_function>();
        let Some(function) = function.as_mut() else { return };
        let common = &mut function.common;
        for i in 0..common.num_args as usize {
            (*common.arg_info.add(i)).type_.type_mask &= !type_bits;
        }
    }
}

/// `#[\SensitiveParameter]` on `__construct`'s `$appsecret`, so that traces
/// show `Object(SensitiveParameterValue)` instead of the secret.
fn mark_secret_parameter(class: &mut ClassEntry) {
    let constructor = class.constructor;
    if constructor.is_null() {
        return;
    }
    let name = ZendStr::new_interned("SensitiveParameter", true);
    // SAFETY: MINIT, the constructor was just registered (an internal
    // function: the shim's inline helper makes the attribute persistent).
    // Offset 1 is the second parameter.
    unsafe { zend_ffi::add_parameter_attribute(constructor, 1, name.into_raw()) };
}

/// Runs a method body; a Rust panic becomes a PHP exception instead of
/// unwinding into the engine (which would abort the process).
pub(crate) fn guarded(body: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(body)).is_err() {
        exception::throw(&WeixinError::local("internal error in the weixin extension"));
    }
}

/// `public function __construct(?string $appid = null, #[\SensitiveParameter] ?string $appsecret = null, mixed ...$ignored)`
extern "C" fn construct(ex: &mut ExecuteData, _retval: &mut Zval) {
    guarded(|| {
        let [appid_arg, secret_arg] = leading_arguments(ex);
        let Some(this) = ex.get_self() else { return };
        let Ok(appid_given) = optional_string(appid_arg, 1, "appid") else {
            return;
        };
        let Ok(secret_given) = optional_string(secret_arg, 2, "appsecret") else {
            return;
        };
        // As in the legacy class: the arguments count only as a pair of
        // non-empty values.
        let given = appid_given.zip(secret_given);
        if let Err(error) = construct_object(this, given) {
            exception::throw(&error);
        }
    });
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

/// A credential as found: a PHP string shared with where it came from (an
/// argument, a property, a constant: nothing is copied), or text converted
/// from another scalar or taken from the settings.
pub(crate) enum Credential {
    Php(Zval),
    Text(String),
}

impl Credential {
    /// A truthy scalar (as PHP's `if ($value)` on a string sees it); `None`
    /// for anything else, and for arrays and objects.
    fn from_php(value: &Zval) -> Option<Credential> {
        let value = value.dereference();
        if value.is_string() {
            return value.str().filter(|s| php_truthy(s)).map(|_| Credential::Php(value.shallow_clone()));
        }
        if value.is_null() || value.is_array() || value.is_object() {
            return None;
        }
        value.coerce_to_string().filter(|s| php_truthy(s)).map(Credential::Text)
    }

    fn from_setting(value: &str) -> Option<Credential> {
        php_truthy(value).then(|| Credential::Text(value.to_string()))
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Credential::Php(value) => match value.zend_str() {
                // SAFETY: `from_php` checked that it is UTF-8; a PHP string
                // does not change while it has a reference (ours).
                Some(string) => unsafe { std::str::from_utf8_unchecked(string.as_bytes()) },
                None => "",
            },
            Credential::Text(text) => text,
        }
    }

    fn write_to(&self, object: &mut ZendObject, prop: Prop) {
        match self {
            Credential::Php(value) => props::write(object, prop, value),
            Credential::Text(text) => props::write_string(object, prop, text),
        }
    }
}

/// Each credential: the given pair, else the object's property (a subclass
/// default), else the constant, else the INI setting.
pub(crate) fn credentials(
    this: &ZendObject,
    settings: &Settings,
    given: Option<(Credential, Credential)>,
) -> Result<(Credential, Credential), WeixinError> {
    let (appid_given, secret_given) = given.unzip();
    let appid = appid_given
        .or_else(|| property(this, Prop::AppId))
        .or_else(|| constant("APPID"))
        .or_else(|| Credential::from_setting(&settings.appid))
        .ok_or_else(|| missing("AppID", "appid", "APPID"))?;
    let secret = secret_given
        .or_else(|| property(this, Prop::AppSecret))
        .or_else(|| constant("APPSECRET"))
        .or_else(|| Credential::from_setting(settings.appsecret.expose()))
        .ok_or_else(|| missing("AppSecret", "appsecret", "APPSECRET"))?;
    Ok((appid, secret))
}

thread_local! {
    /// Whether this request has raised its one memcached warning. Per
    /// thread: under ZTS each thread serves its own requests (reset in RINIT).
    static WARNED_THIS_REQUEST: Cell<bool> = const { Cell::new(false) };
}

/// Raises memcached trouble as one E_WARNING per request at most: a dead
/// memcached must not flood the logs; the secret never appears in it.
pub(crate) fn warn_once(error: &WeixinError, secret: &Secret) {
    if !WARNED_THIS_REQUEST.replace(true) {
        warning(&error.clone().redact(secret.expose()).message);
    }
}

/// Runs `job` with the two warning channels of the token services:
/// memcached trouble (one E_WARNING per request at most) and the daily
/// quota's warning, raised once the job is done, on this PHP thread. The
/// secret never appears in either.
pub(crate) fn with_warnings<T>(
    secret: &Secret,
    job: impl FnOnce(&dyn Fn(&WeixinError), &dyn Fn(&str)) -> Result<T, WeixinError>,
) -> Result<T, WeixinError> {
    let warn = |error: &WeixinError| warn_once(error, secret);
    let quota_warning = Cell::new(None);
    let quota_warn = |message: &str| quota_warning.set(Some(message.to_string()));
    let outcome = job(&warn, &quota_warn);
    if let Some(message) = quota_warning.take() {
        warning(&crate::error::redact(&message, secret.expose()));
    }
    outcome
}

/// RINIT: this request has raised no warning yet.
pub fn new_request() {
    WARNED_THIS_REQUEST.set(false);
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
    with_warnings(secret, |warn, quota_warn| service::with_token_service(settings, appid, secret, warn, quota_warn, job))
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
            let bad = property(this, Prop::AccessToken);
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

fn missing(what: &str, property: &str, constant: &str) -> WeixinError {
    WeixinError::config(format!(
        "class_weixin has no {what}: pass it to the constructor, declare \
         ${property} in a subclass, define the constant {constant}, or set weixin.{property}"
    ))
}

/// `protected function http_request($url, $data = null)`: GET when `$data` is
/// empty, else POST (a string as the body, an array as multipart/form-data
/// with `CURLFile` uploads). Returns the body, or `false` with an E_WARNING
/// on a transport failure, like `curl_exec()`.
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
            let reply = http::send(&settings.http, &url, request_body(data)?)?;
            match this {
                Some(this) if settings.auto_refresh => with_token_replaced(this, &settings, &url, data, reply),
                _ => Ok(reply),
            }
        });
        match outcome {
            Ok(reply) => retval.set_zend_string(ZendStr::new(&reply.body, false)),
            Err(error) => {
                let secret = ini::value("weixin.appsecret", false).unwrap_or_default();
                warning(&error.redact(&secret).message);
                retval.set_bool(false);
            }
        }
    });
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
    reply: http::Response,
) -> Result<http::Response, WeixinError> {
    let Some(errcode) = wechat::errcode_of(&reply.body).filter(|&code| wechat::is_token_rejected(code)) else {
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
    let Some(again) = wechat::with_access_token(url, &token) else { return Ok(reply) };
    props::write_string(this, Prop::AccessToken, &token);
    stats::TOKEN_RETRIES.fetch_add(1, Ordering::Relaxed);
    http::send(&settings.http, &again, request_body(data)?)
}

fn request_body(data: Option<&Zval>) -> Result<Body, WeixinError> {
    let Some(data) = data.filter(|d| d.coerce_to_bool()) else {
        return Ok(Body::None);
    };
    if let Some(fields) = data.array() {
        let mut form = Vec::with_capacity(fields.len());
        for (key, value) in fields.iter() {
            form.push(form_field(key.to_string(), value)?);
        }
        return Ok(Body::Form(form));
    }
    if let Some(bytes) = data.zend_str() {
        return Ok(Body::Raw(bytes.as_bytes().to_vec()));
    }
    data.coerce_to_string()
        .map(|s| Body::Raw(s.into_bytes()))
        .ok_or_else(|| WeixinError::local("$data must be a string or an array"))
}

fn form_field(name: String, value: &Zval) -> Result<FormField, WeixinError> {
    let value = value.dereference();
    if let Some(object) = value.object() {
        let class = object.get_class_name().unwrap_or_default();
        if is_class(object, "CURLFile") {
            let path = object.get_property::<String>("name").unwrap_or_default();
            let nonempty = |p: &str| object.get_property::<String>(p).ok().filter(|s| !s.is_empty());
            return Ok(FormField::File {
                name,
                path,
                filename: nonempty("postname"),
                mime: nonempty("mime"),
            });
        }
        if is_class(object, "CURLStringFile") {
            let data = object.get_property::<&Zval>("data").ok().and_then(|z| z.zend_str().map(|s| s.as_bytes().to_vec()));
            return Ok(FormField::Bytes {
                name,
                value: data.unwrap_or_default(),
                filename: object.get_property::<String>("postname").ok(),
                mime: object.get_property::<String>("mime").ok(),
            });
        }
        return value
            .coerce_to_string()
            .map(|s| FormField::Text { name: name.clone(), value: s.into_bytes() })
            .ok_or_else(|| WeixinError::local(format!("field '{name}': an object of class {class} cannot be sent")));
    }
    if let Some(bytes) = value.zend_str() {
        return Ok(FormField::Text { name, value: bytes.as_bytes().to_vec() });
    }
    match value.coerce_to_string() {
        Some(s) if !value.is_array() => Ok(FormField::Text { name, value: s.into_bytes() }),
        _ => Err(WeixinError::local(format!(
            "field '{name}': nested arrays cannot be sent as multipart/form-data"
        ))),
    }
}

fn is_class(object: &ZendObject, name: &str) -> bool {
    ClassEntry::try_find(name).is_some_and(|class| object.instance_of(class))
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

/// A parameter declared `?string`: null, or a string (scalars converted as
/// in weak mode), kept only if truthy. Anything else throws a TypeError and
/// returns `Err`.
fn optional_string(value: Option<&Zval>, position: u32, name: &str) -> Result<Option<Credential>, ()> {
    let Some(value) = value.map(Zval::dereference) else { return Ok(None) };
    if value.is_null() {
        return Ok(None);
    }
    if value.is_string() {
        return utf8_credential(value, position, name);
    }
    if value.is_long() || value.is_double() || value.is_bool() {
        return Ok(Credential::from_php(value));
    }
    // A Stringable object, as PHP's own `?string` parameters take one. An
    // exception its __toString() throws stays pending.
    if let Some(object) = value.object().filter(|o| o.instance_of(ext_php_rs::zend::ce::stringable())) {
        // No string back: __toString() threw (its exception is pending).
        let text = object.try_call_method("__toString", vec![]).ok().filter(Zval::is_string).ok_or(())?;
        return utf8_credential(&text, position, name);
    }
    let _ = ext_php_rs::exception::throw(
        ext_php_rs::zend::ce::type_error(),
        &format!(
            "class_weixin::__construct(): Argument #{position} (${name}) must be of type ?string, {} given",
            type_name(value)
        ),
    );
    Err(())
}

fn type_name(value: &Zval) -> String {
    match value.object() {
        Some(object) => object.get_class_name().unwrap_or_else(|_| "object".into()),
        None if value.is_array() => "array".into(),
        None => "resource".into(),
    }
}

/// PHP's truthiness of a string: everything but "" and "0".
/// A string argument as a credential; one that is not UTF-8 (never an AppID
/// or AppSecret) is an error naming the argument, not a silent fall-back to
/// another account.
fn utf8_credential(value: &Zval, position: u32, name: &str) -> Result<Option<Credential>, ()> {
    if value.is_string() && value.str().is_none() {
        exception::throw(&WeixinError::local(format!(
            "class_weixin::__construct(): Argument #{position} (${name}) is not valid UTF-8 \
             (an AppID and an AppSecret are letters and digits)"
        )));
        return Err(());
    }
    Ok(Credential::from_php(value))
}

fn php_truthy(value: &str) -> bool {
    !value.is_empty() && value != "0"
}

/// A property of the object, if it is set to a truthy scalar.
fn property(object: &ZendObject, prop: Prop) -> Option<Credential> {
    Credential::from_php(&props::read(object, prop)?)
}

/// A global constant, if defined as a truthy scalar.
fn constant(name: &str) -> Option<Credential> {
    // SAFETY: the engine returns NULL or a pointer into its constant table.
    let value: &Zval = unsafe { zend_get_constant_str(name.as_ptr().cast(), name.len()).as_ref() }?;
    Credential::from_php(value)
}

fn warning(message: &str) {
    ext_php_rs::error::php_error(&ErrorType::Warning, message);
}
