//! What one request (one per thread under ZTS) keeps, and the warnings it
//! raises: memcached trouble once per request at most, the daily quota's
//! warning when the job is done, on the PHP thread that made the request.

use std::cell::Cell;

use ext_php_rs::flags::ErrorType;

use weixin_core::error::WeixinError;
use weixin_core::secret::Secret;

thread_local! {
    /// Whether this request has raised its one memcached warning. Per
    /// thread: under ZTS each thread serves its own requests (reset in RINIT).
    static WARNED_THIS_REQUEST: Cell<bool> = const { Cell::new(false) };
}

/// RINIT: this request has raised no warning yet.
pub fn new_request() {
    WARNED_THIS_REQUEST.set(false);
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
        warning(&weixin_core::secret::redact(&message, secret.expose()));
    }
    outcome
}

pub(crate) fn warning(message: &str) {
    ext_php_rs::error::php_error(&ErrorType::Warning, message);
}
