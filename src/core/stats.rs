//! This process's counters, shown by `php --ri weixin`.

use std::sync::atomic::AtomicU64;

/// Tokens served from the process-local cache.
pub static LOCAL_HITS: AtomicU64 = AtomicU64::new(0);
/// Tokens served from memcached.
pub static MEMCACHED_HITS: AtomicU64 = AtomicU64::new(0);
/// Token requests sent to WeChat.
pub static UPSTREAM_CALLS: AtomicU64 = AtomicU64::new(0);
/// Token requests that failed.
pub static UPSTREAM_ERRORS: AtomicU64 = AtomicU64::new(0);
/// Lookups that waited for another process's token request.
pub static LOCK_WAITS: AtomicU64 = AtomicU64::new(0);
/// `http_request()` calls sent again after WeChat refused their token.
pub static TOKEN_RETRIES: AtomicU64 = AtomicU64::new(0);
/// Readings of the `weixin.*` settings (once per change of them, on the
/// thread that changed them).
pub static SETTINGS_READS: AtomicU64 = AtomicU64::new(0);
