//! weixin: a native `class_weixin` for PHP that gets WeChat access tokens
//! correctly, securely and fast.
//!
//! Module layout: `config` (settings, pure) and `ini` (their PHP glue),
//! `memcached` (its meta protocol: transport, server choice), `http`
//! (reqwest), `wechat` (the token endpoints), `token` (many processes, one
//! token: pure rules over ports), `quota` (the fleet's daily count of
//! token requests, a decorator of the rules' upstream), `stats` (counters),
//! `service` (an account's token service, wired), `weixin_class` and
//! `exception` (the PHP classes), `props` (their properties), `info`
//! (`php --ri`).

mod class_tickets;
pub mod config;
mod credentials;
mod engine;
pub mod error;
mod exception;
pub mod http;
mod info;
mod ini;
pub mod jssdk;
pub mod memcached;
pub mod process;
mod php_body;
mod props;
pub mod quota;
pub mod random;
mod request;
pub mod secret;
mod service;
pub mod signals;
pub mod stats;
pub mod tickets;
pub mod token;
pub mod wechat;
mod weixin_class;
mod zend_ffi;

use std::panic::{catch_unwind, AssertUnwindSafe};

use ext_php_rs::prelude::*;

/// MINIT: fork notification, INI entries and classes. A panic here must not unwind into PHP.
extern "C" fn startup(_type: i32, module_number: i32) -> i32 {
    let registered = catch_unwind(AssertUnwindSafe(|| {
        process::watch_forks();
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
