//! weixin: a native `class_weixin` for PHP that gets WeChat access tokens
//! correctly, securely and fast.
//!
//! This crate is the PHP glue, and only registers: the class's methods
//! (`weixin_class`, `class_tickets`) over `credentials`, `php_body` and
//! `request`; `exception`, `ini`, `props`, `info`; the engine tweaks
//! (`engine`, `zend_ffi`). The logic is the `weixin-core` crate
//! (`src/core/`), which builds and tests without PHP.

mod class_tickets;
mod credentials;
mod engine;
mod exception;
mod info;
mod ini;
mod php_body;
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

/// RINIT: each request may raise its own memcached warning.
extern "C" fn request_startup(_type: i32, _module_number: i32) -> i32 {
    match std::panic::catch_unwind(request::new_request) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

#[php_module]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    module
        .name("weixin")
        .startup_function(startup)
        .request_startup_function(request_startup)
        .info_function(info::module_info)
}
