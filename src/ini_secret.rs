//! `weixin.appsecret` out of scripts' reach: the value php.ini, `-d` or a
//! php-fpm pool gives is kept here, and the INI entry (what `ini_get()`,
//! `ini_get_all()` and `get_cfg_var()` read) holds a mask in its place. A
//! value a script sets itself (`ini_set()`, `.user.ini`) stays in the entry,
//! as PHP keeps it, for that request.

use std::sync::atomic::{AtomicPtr, Ordering};

use ext_php_rs::ffi::zend_string;
use ext_php_rs::types::ZendStr;

use crate::zend_ffi;
use weixin_core::secret::Secret;

const NAME: &str = "weixin.appsecret";

/// The mask, a persistent interned string made in MINIT.
static MASK: AtomicPtr<zend_string> = AtomicPtr::new(std::ptr::null_mut());

/// The master value hidden behind the mask: persistent, never freed while
/// the mask stands for it. Replaced when a php-fpm worker's pool settings
/// or a FastCGI `PHP_ADMIN_VALUE` give another (a worker is one thread).
static HIDDEN: AtomicPtr<zend_string> = AtomicPtr::new(std::ptr::null_mut());

/// MINIT, once the entries are registered: php.ini's and `-d`'s value.
pub fn hide_at_startup() {
    let mask = ZendStr::new_interned(Secret::MASK, true).into_raw();
    MASK.store(mask, Ordering::Release);
    hide(true);
}

/// RINIT: a master value set since (a php-fpm pool, a FastCGI
/// `PHP_ADMIN_VALUE`), before the script runs.
pub fn hide_at_request_start() {
    hide(false);
}

fn hide(config: bool) {
    let mask = MASK.load(Ordering::Acquire);
    if mask.is_null() {
        return;
    }
    // SAFETY: MINIT (with `config`) or RINIT, on the PHP thread; `mask` is
    // interned for the life of the process.
    let hidden = unsafe { zend_ffi::ini_hide(NAME, mask, config) };
    if !hidden.is_null() {
        HIDDEN.store(hidden, Ordering::Release);
    }
}

/// MSHUTDOWN: the value back in the entry, for the engine to free.
pub fn unhide() {
    let (mask, hidden) = (MASK.load(Ordering::Acquire), HIDDEN.swap(std::ptr::null_mut(), Ordering::AcqRel));
    if !mask.is_null() && !hidden.is_null() {
        // SAFETY: MSHUTDOWN; `hidden` is what `ini_hide` replaced by `mask`.
        unsafe { zend_ffi::ini_unhide(NAME, mask, hidden) };
    }
}

/// The entry's string, seen through the mask: the hidden master value when
/// the entry holds the mask, else the string itself.
pub fn unmasked(entry: *mut zend_string) -> *mut zend_string {
    let mask = MASK.load(Ordering::Acquire);
    if entry.is_null() || entry != mask {
        return entry;
    }
    HIDDEN.load(Ordering::Acquire)
}
