//! `class_weixin` declared only when code asks for it, so that an app that
//! still declares its own `class_weixin` (a legacy copy, grown with methods
//! of its own) keeps it, on the same PHP as apps that use the native one.
//!
//! The class is registered in MINIT like any other and stays in the class
//! table (threads copy it, its methods get their run-time caches, shutdown
//! frees it), under a key that no lookup can match: lookups lowercase the
//! name they look for, and this key has capitals. When a lookup of
//! `class_weixin` misses, the engine asks its autoloader, which this module
//! wraps: unless the script's autoloaders load a class of the script's own
//! (Composer's classmap, a framework's loader), the class moves to its own
//! key, in place, and is found from then on. A script that declares its own
//! class first never asks. At the end of each request the class goes back,
//! so the next request, maybe another app in the same php-fpm worker or
//! thread, starts over.
//!
//! The native implementation is always there as `class_weixin_native`, for
//! the migration edit `class class_weixin extends class_weixin_native`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use ext_php_rs::ffi::{zend_class_entry, zend_string};
use ext_php_rs::types::ZendStr;
use ext_php_rs::zend::ClassEntry;

use crate::zend_ffi::{self, Autoload};

/// The name code asks for, lowercase: the class table's key for it.
const NAME: &str = "class_weixin";
/// Where the class waits until asked for: no lookup matches capitals. The
/// same letters otherwise, so that what lists classes by key
/// (`get_declared_classes()`, `ReflectionExtension::getClassNames()`) shows
/// its name.
const WAITING: &str = "CLASS_WEIXIN";

/// The class and its two keys (persistent interned strings), set in MINIT.
struct Deferred {
    class: *mut zend_class_entry,
    name: *mut zend_string,
    waiting: *mut zend_string,
}

// SAFETY: set once in MINIT and only read after; the class entry and the
// interned keys live as long as the process, and each thread moves the
// class only within its own class table.
unsafe impl Send for Deferred {}
unsafe impl Sync for Deferred {}

static DEFERRED: OnceLock<Deferred> = OnceLock::new();
/// The autoloader this one wraps (SPL's, which runs the script's).
static PREVIOUS: OnceLock<Option<Autoload>> = OnceLock::new();

/// MINIT, once `class` (registered as `class_weixin`) is complete: the
/// class waits, and the engine's autoloader is wrapped. Should the class
/// not move, it stays declared, as it always was.
pub fn defer(class: &mut ClassEntry) {
    let deferred = DEFERRED.get_or_init(|| Deferred {
        class: std::ptr::from_mut(class).cast(),
        name: ZendStr::new_interned(NAME, true).into_raw(),
        waiting: ZendStr::new_interned(WAITING, true).into_raw(),
    });
    // SAFETY: MINIT, one thread, before any request.
    unsafe {
        if zend_ffi::rekey_class(deferred.class, deferred.name, deferred.waiting) {
            let _ = PREVIOUS.set(zend_ffi::swap_autoload(Some(autoload)));
        }
    }
}

/// MSHUTDOWN: the wrapped autoloader back, unless another extension has
/// wrapped this one since (then it stays as that one left it).
pub fn restore_autoloader() {
    if let Some(&previous) = PREVIOUS.get() {
        // SAFETY: MSHUTDOWN, one thread, no request running.
        unsafe {
            let current = zend_ffi::swap_autoload(previous);
            if current.map(|f| f as *const ()) != Some(autoload as *const ()) {
                zend_ffi::swap_autoload(current);
            }
        }
    }
}

/// RINIT and RSHUTDOWN: the class waits again if a request declared it (at
/// RINIT too: a lookup after this extension's RSHUTDOWN, from another
/// module's, would otherwise leave it declared for the next request).
pub fn put_back() {
    if let Some(deferred) = DEFERRED.get() {
        // SAFETY: on this PHP thread, whose class table it is.
        unsafe { zend_ffi::rekey_class(deferred.class, deferred.name, deferred.waiting) };
    }
}

/// The engine's autoloader. Every name goes to the wrapped one (the
/// script's autoloaders) first: a copy of `class_weixin` that they load
/// (Composer's classmap, a framework's loader) is the script's own class.
/// When they find no `class_weixin` and throw nothing, the native one is
/// declared and returned.
unsafe extern "C" fn autoload(name: *mut zend_string, lowercase: *mut zend_string) -> *mut zend_class_entry {
    let previous = PREVIOUS.get().copied().flatten();
    // SAFETY: the engine's own autoloader, with the engine's arguments.
    let found = previous.map_or(std::ptr::null_mut(), |previous| unsafe { previous(name, lowercase) });
    if !found.is_null() || zend_ffi::exception_pending() {
        return found;
    }
    let declared = catch_unwind(AssertUnwindSafe(|| {
        let deferred = DEFERRED.get()?;
        // SAFETY: the engine passes the lowercase name as a live string.
        let asked = unsafe { lowercase.cast::<ZendStr>().as_ref() }?;
        // SAFETY: a lookup on this PHP thread, whose class table it is.
        let moved = asked.as_bytes() == NAME.as_bytes()
            && unsafe { zend_ffi::rekey_class(deferred.class, deferred.waiting, deferred.name) };
        moved.then_some(deferred.class)
    }));
    declared.ok().flatten().unwrap_or(std::ptr::null_mut())
}
