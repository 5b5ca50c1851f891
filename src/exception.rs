//! `WeixinException extends RuntimeException`.
//!
//! Registered with `ClassBuilder` as a plain subclass (no Rust object behind
//! it), so the engine fills in file, line and trace like for any exception;
//! `getCode()` is WeChat's errcode, 0 for errors of our own.

use std::sync::atomic::{AtomicPtr, Ordering};

use ext_php_rs::builders::ClassBuilder;
use ext_php_rs::zend::ClassEntry;

use crate::error::WeixinError;
use crate::zend_ffi::spl_ce_RuntimeException;

pub const CLASS_NAME: &str = "WeixinException";

static CLASS: AtomicPtr<ClassEntry> = AtomicPtr::new(std::ptr::null_mut());

fn runtime_exception() -> &'static ClassEntry {
    // SAFETY: SPL registers RuntimeException before any dynamically loaded
    // extension starts, and the class entry lives as long as the process.
    unsafe { &*spl_ce_RuntimeException.cast::<ClassEntry>() }
}

pub fn register() -> ext_php_rs::error::Result<()> {
    ClassBuilder::new(CLASS_NAME)
        .extends((runtime_exception, "RuntimeException"))
        .registration(|class, arg_info| {
            CLASS.store(class, Ordering::Release);
            crate::park_arg_info(arg_info);
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
