//! Where `class_weixin`'s AppID and AppSecret come from, in the legacy
//! class's order: the constructor's arguments (as a pair), the object's
//! properties (a subclass's defaults), the `APPID`/`APPSECRET` constants,
//! the INI settings; and how PHP values become credentials.

use ext_php_rs::types::{ZendObject, Zval};

use crate::exception;
use crate::props::{self, Prop};
use crate::zend_ffi::zend_get_constant_str;
use weixin_core::config::Settings;
use weixin_core::error::WeixinError;

/// A credential as found: a PHP string shared with where it came from (an
/// argument, a property, a constant: nothing is copied), or text converted
/// from another scalar or taken from the settings.
pub(crate) enum Credential {
    Php(Zval),
    Text(String),
}

impl Credential {
    /// A truthy scalar (as PHP's `if ($value)` on a string sees it); `None`
    /// for anything else, and for arrays and objects. A string that is not
    /// UTF-8 (never an AppID or AppSecret) is an error naming `source`:
    /// falling back to the next source would be another account.
    fn from_php(value: &Zval, source: impl FnOnce() -> String) -> Result<Option<Credential>, WeixinError> {
        let value = value.dereference();
        if value.is_string() {
            return match value.str() {
                Some(text) => Ok(php_truthy(text).then(|| Credential::Php(value.shallow_clone()))),
                None => Err(not_utf8(&source())),
            };
        }
        if value.is_null() || value.is_array() || value.is_object() {
            return Ok(None);
        }
        Ok(value.coerce_to_string().filter(|s| php_truthy(s)).map(Credential::Text))
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

    pub(crate) fn write_to(&self, object: &mut ZendObject, prop: Prop) {
        match self {
            Credential::Php(value) => props::write(object, prop, value),
            Credential::Text(text) => props::write_string(object, prop, text),
        }
    }
}

/// Each credential: the given pair, else the object's property (a subclass
/// default), else the constant, else the INI setting (php.ini's AppSecret
/// only where php.ini's settings send it).
pub(crate) fn credentials(
    this: &ZendObject,
    settings: &Settings,
    given: Option<(Credential, Credential)>,
) -> Result<(Credential, Credential), WeixinError> {
    if let Some(given) = given {
        return Ok(given);
    }
    let appid = match property(this, Prop::AppId)? {
        Some(appid) => appid,
        None => constant("APPID")?
            .or_else(|| Credential::from_setting(&settings.appid))
            .ok_or_else(|| missing("AppID", "appid", "APPID"))?,
    };
    let secret = match property(this, Prop::AppSecret)? {
        Some(secret) => secret,
        None => match constant("APPSECRET")? {
            Some(secret) => secret,
            None => {
                let secret = Credential::from_setting(settings.appsecret.expose())
                    .ok_or_else(|| missing("AppSecret", "appsecret", "APPSECRET"))?;
                settings.check_ini_secret_destination()?;
                secret
            }
        },
    };
    Ok((appid, secret))
}

fn not_utf8(source: &str) -> WeixinError {
    WeixinError::config(format!("{source} is not valid UTF-8 (an AppID and an AppSecret are letters and digits)"))
}

fn missing(what: &str, property: &str, constant: &str) -> WeixinError {
    WeixinError::config(format!(
        "class_weixin has no {what}: pass it to the constructor, declare \
         ${property} in a subclass, define the constant {constant}, or set weixin.{property}"
    ))
}

/// Why a `?string` argument gave no credential.
pub(crate) enum Unusable {
    /// Neither a string nor null: PHP's parsing must say (a `TypeError`, or
    /// weak mode's coercion in the call frame, after which it is read again).
    NotParsed,
    /// An exception was thrown.
    Thrown,
}

/// A parameter declared `?string`, once PHP's parsing has left it a string
/// or null: kept only if truthy.
pub(crate) fn optional_string(value: Option<&Zval>, position: u32, name: &str) -> Result<Option<Credential>, Unusable> {
    let Some(value) = value else { return Ok(None) };
    if value.is_null() {
        return Ok(None);
    }
    if !value.is_string() {
        return Err(Unusable::NotParsed);
    }
    utf8_credential(value, position, name).map_err(|()| Unusable::Thrown)
}

/// A string argument as a credential; one that is not UTF-8 (never an AppID
/// or AppSecret) is an error naming the argument, not a silent fall-back to
/// another account.
fn utf8_credential(value: &Zval, position: u32, name: &str) -> Result<Option<Credential>, ()> {
    Credential::from_php(value, || format!("class_weixin::__construct(): Argument #{position} (${name})")).map_err(
        |error| {
            exception::throw(&WeixinError::local(error.message));
        },
    )
}

/// PHP's truthiness of a string: everything but "" and "0".
fn php_truthy(value: &str) -> bool {
    !value.is_empty() && value != "0"
}

/// A property of the object, if it is set to a truthy scalar.
pub(crate) fn property(object: &ZendObject, prop: Prop) -> Result<Option<Credential>, WeixinError> {
    match props::read(object, prop) {
        Some(value) => Credential::from_php(&value, || format!("the property ${}", prop.name())),
        None => Ok(None),
    }
}

/// A global constant, if defined as a truthy scalar.
fn constant(name: &str) -> Result<Option<Credential>, WeixinError> {
    // SAFETY: the engine returns NULL or a pointer into its constant table.
    match unsafe { zend_get_constant_str(name.as_ptr().cast(), name.len()).as_ref() } {
        Some(value) => Credential::from_php(value, || format!("the constant {name}")),
        None => Ok(None),
    }
}
