//! What one request (one per thread under ZTS) keeps, and the trouble it
//! reports: memcached trouble once per request at most, the daily quota's
//! warning, both once the job is done, on the PHP thread that made the
//! request, as E_WARNINGs that an error handler may take but not turn into
//! the caller's exception.

use std::cell::Cell;

use ext_php_rs::flags::ErrorType;

use crate::zend_ffi;
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

/// Runs `job` with the two trouble channels of the token services:
/// memcached trouble (one warning per request at most) and the daily
/// quota's warning. Both are collected and reported once the job is done,
/// on this PHP thread, so that no PHP code (an error handler) runs in the
/// middle of the token rules. The secret never appears in either. The
/// second channel also brings the warnings this process's background
/// refreshes of the account left (they cannot raise anything on their own
/// threads), each once: those a refresh this job starts leaves come with
/// a later lookup.
pub(crate) fn with_warnings<T>(
    secret: &Secret,
    job: impl FnOnce(&dyn Fn(&WeixinError), &dyn Fn(&str)) -> Result<T, WeixinError>,
) -> Result<T, WeixinError> {
    let memcached_trouble = Cell::new(None);
    let warn = |error: &WeixinError| {
        if !WARNED_THIS_REQUEST.replace(true) {
            memcached_trouble.set(Some(error.clone().redact(secret.expose()).message));
        }
    };
    // None until there is one: nothing to build or drop on the warm path.
    let warnings: Cell<Option<Vec<String>>> = Cell::new(None);
    let also_warn = |message: &str| {
        let mut list = warnings.take().unwrap_or_default();
        list.push(weixin_core::secret::redact(message, secret.expose()));
        warnings.set(Some(list));
    };
    let outcome = job(&warn, &also_warn);
    if let Some(message) = memcached_trouble.take() {
        warning(&message);
    }
    if let Some(list) = warnings.take() {
        for message in list {
            warning(&message);
        }
    }
    outcome
}

/// Reports trouble that the caller carries on from (it still returns a
/// token, or `false` as `curl_exec()` did) as an E_WARNING of the running
/// method, once its work is done. A user error handler that turns it into
/// an exception (as frameworks' handlers do) does not turn the caller's
/// result into one: that exception is dropped and the warning goes straight
/// to PHP's error log, as PHP logs a warning.
pub(crate) fn warning(message: &str) {
    let thrown_before = zend_ffi::exception_pending();
    ext_php_rs::error::php_error(&ErrorType::Warning, message);
    if !thrown_before && zend_ffi::exception_pending() {
        zend_ffi::clear_exception();
        zend_ffi::log_warning(message);
    }
}
