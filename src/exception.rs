//! `WeixinException extends RuntimeException`.
//!
//! Registered with `ClassBuilder` as a plain subclass (no Rust object behind
//! it), so the engine fills in file, line and trace like for any exception;
//! `getCode()` is WeChat's errcode, 0 for errors of our own.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, Ordering};

use ext_php_rs::builders::ClassBuilder;
use ext_php_rs::zend::ClassEntry;

use weixin_core::error::WeixinError;

pub const CLASS_NAME: &str = "WeixinException";

static CLASS: AtomicPtr<ClassEntry> = AtomicPtr::new(std::ptr::null_mut());

/// `RuntimeException`, looked up by name in MINIT (SPL registers it before
/// any dynamically loaded extension starts): no link-time reference to
/// `spl_ce_RuntimeException`, a data symbol Windows DLLs cannot import so.
static PARENT: AtomicPtr<ClassEntry> = AtomicPtr::new(std::ptr::null_mut());

fn runtime_exception() -> &'static ClassEntry {
    // SAFETY: set in MINIT before the class is registered and any PHP code
    // runs; class entries of the engine live as long as the process.
    unsafe { PARENT.load(Ordering::Acquire).as_ref() }.unwrap_or_else(ext_php_rs::zend::ce::exception)
}

pub fn register() -> ext_php_rs::error::Result<()> {
    let parent = crate::zend_ffi::find_class("RuntimeException").ok_or(ext_php_rs::error::Error::InvalidScope)?;
    PARENT.store(std::ptr::from_ref(parent).cast_mut(), Ordering::Release);
    ClassBuilder::new(CLASS_NAME)
        .extends((runtime_exception, "RuntimeException"))
        .registration(|class, arg_info| {
            CLASS.store(class, Ordering::Release);
            crate::engine::park_arg_info(arg_info);
        })
        .register()
}

/// Throws `error` as a `WeixinException` into the running PHP code.
pub fn throw(error: &WeixinError) {
    let class = CLASS.load(Ordering::Acquire);
    // SAFETY: set once in MINIT before any PHP code runs; never freed.
    let class: &ClassEntry = match unsafe { class.as_ref() } {
        Some(class) => class,
        None => runtime_exception(),
    };
    let code = i32::try_from(error.code).unwrap_or(0);
    let _ = ext_php_rs::exception::throw_with_code(class, code, &error.message.replace('\0', " "));
}

/// Runs a method body; a Rust panic becomes a PHP exception instead of
/// unwinding into the engine (which would abort the process).
pub fn guarded(body: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(body)).is_err() {
        throw(&WeixinError::local("internal error in the weixin extension"));
    }
}
