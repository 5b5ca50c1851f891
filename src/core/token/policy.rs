//! The tunables of one account's lookups, derived from the settings once.

use std::time::Duration;

/// While a due token is being replaced, a process serves it from its cache
/// and asks memcached for the new one at most this often (seconds): the
/// fleet's lookups in that moment are not each a round trip or two.
pub const LOOK_AGAIN_WHILE_REPLACED: f64 = 0.1;

/// How long waiters report a failed cold fetch before someone tries again.
pub const COLD_FAILURE_BACKOFF: u32 = 2;

/// Without memcached a process coordinates with nobody, so it bounds its
/// own upstream calls: at most this many per minute.
pub const DEGRADED_CALLS_PER_MINUTE: usize = 3;

/// A stable token in its last stretch is served until this many seconds
/// before WeChat's own expiry: the time a call made with it takes to reach
/// WeChat. (A fresh token keeps a larger guard: a tenth of its life.)
pub const STABLE_END_GUARD: f64 = 2.0;

#[derive(Clone, Debug)]
pub struct Policy {
    pub refresh_margin: u64,
    pub local_cache_ttl: u64,
    /// The token request's own timeout (`weixin.token_timeout`).
    pub token_timeout: Duration,
    /// How long this process's fetch lock is held at most (its deadline):
    /// longer than one token request can take.
    pub lock_hold: u32,
    /// Stable tokens: a refresh may force a new one.
    pub stable: bool,
}

impl Policy {
    pub fn new(refresh_margin: u64, local_cache_ttl: u64, token_timeout: Duration, stable: bool) -> Policy {
        // memcached counts whole seconds and may expire a key up to a second
        // early: two more than the timeout keep the lock past any fetch.
        let lock_hold = token_timeout.as_secs_f64().ceil() as u32 + 2;
        Policy { refresh_margin, local_cache_ttl, token_timeout, lock_hold, stable }
    }

    /// How long a waiter waits for a lock that declared `hold` seconds:
    /// past the hold (and a second for memcached's coarse clock) it takes
    /// the lock over, then makes its own request.
    pub fn wait_for(&self, hold: u32) -> f64 {
        f64::from(hold) + 1.0 + self.token_timeout.as_secs_f64() + 1.0
    }
}
