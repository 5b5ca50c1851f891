//! The logic of the weixin extension, plain Rust that `cargo test -p
//! weixin-core` exercises without PHP. From the bottom up:
//!
//! - values and rules: `secret`, `error`, `config`, `token` (the fleet
//!   protocol over ports), `jssdk`, `quota`'s day and key;
//! - adapters: `memcached`, `http`, `wechat`, `tickets`, `machine_share`,
//!   `background` (the threads that replace due tokens), and the system
//!   (`process`, `signals`, `random`, over `posix_shim.c`);
//! - `service`: an account's token (or ticket) service wired to them.
//!
//! The PHP extension (the crate at the top) is glue over this.

pub mod background;
pub mod config;
pub mod error;
pub mod http;
pub mod jssdk;
pub mod machine_share;
pub mod memcached;
pub mod process;
pub mod quota;
pub mod random;
pub mod secret;
pub mod service;
pub mod signals;
pub mod stats;
pub mod tickets;
pub mod token;
pub mod wechat;
