//! weixin: a native `class_weixin` for PHP that gets WeChat access tokens
//! correctly, securely and fast.
//!
//! This crate is the PHP glue, and only registers: the class's methods
//! (`weixin_class`, `class_tickets`) over `credentials`, `php_body`,
//! `php_reply` and `request`; `lazy_class` (declared when asked for); `exception`, `ini`,
//! `props`, `info`; the engine tweaks
//! (`engine`, `zend_ffi`). The logic is the `weixin-core` crate
//! (`src/core/`), which builds and tests without PHP.

mod class_tickets;
mod credentials;
mod engine;
mod exception;
mod info;
mod ini;
mod ini_secret;
mod lazy_class;
mod php_body;
mod php_reply;
mod props;
mod request;
mod weixin_class;
mod zend_ffi;

use std::panic::{catch_unwind, AssertUnwindSafe};

use ext_php_rs::prelude::*;

/// MINIT: fork notification, INI entries and classes. A panic here must not unwind into PHP.
extern "C" fn startup(_type: i32, module_number: i32) -> i32 {
    let registered = catch_unwind(AssertUnwindSafe(|| {
        weixin_core::process::watch_forks();
        ini::register(module_number);
        exception::register().and_then(|()| weixin_class::register())
    }));
    match registered {
        Ok(Ok(())) => 0,
        _ => -1,
    }
}

/// MSHUTDOWN: a token replacement running in the background finished
/// (its thread runs this library's code, which is unloaded next; it is
/// bounded by its own timeouts), the engine's autoloader as it was, the
/// AppSecret back in its INI entry.
extern "C" fn shutdown(_type: i32, _module_number: i32) -> i32 {
    match catch_unwind(|| {
        weixin_core::service::wait_for_background();
        lazy_class::restore_autoloader();
        ini_secret::unhide();
    }) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

/// RINIT: each request may raise its own memcached warning, starts with
/// `class_weixin` undeclared, and finds a php-fpm pool's AppSecret hidden.
extern "C" fn request_startup(_type: i32, _module_number: i32) -> i32 {
    match catch_unwind(|| {
        request::new_request();
        ini_secret::hide_at_request_start();
        lazy_class::put_back();
    }) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

/// RSHUTDOWN: `class_weixin` undeclared again, for the next request (maybe
/// another app's, with a class of its own).
extern "C" fn request_shutdown(_type: i32, _module_number: i32) -> i32 {
    match catch_unwind(lazy_class::put_back) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

#[php_module]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    module
        .name("weixin")
        .startup_function(startup)
        .shutdown_function(shutdown)
        .request_startup_function(request_startup)
        .request_shutdown_function(request_shutdown)
        .info_function(info::module_info)
}
