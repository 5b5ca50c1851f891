//! Many processes, one token.
//!
//! Every process and machine that shares memcached agrees on one token per
//! key, and at most one of them asks WeChat for a new one at a time:
//!
//! * **Single flight.** A process that finds no token takes a lock with
//!   memcached `add` (its lifetime bounded by the HTTP timeout) and fetches;
//!   the others poll briefly for its token instead of fetching. If the
//!   winner dies, the lock lapses and the next waiter takes over. If the
//!   winner fails, it leaves the failure in the lock for a short back-off, so
//!   the others report it instead of calling WeChat again.
//! * **Refresh ahead.** A token is due `refresh_margin` seconds before it
//!   expires. The first process to see it due takes the lock and replaces it;
//!   the others keep using the current token and never wait. A failed refresh
//!   leaves a back-off in the lock, spacing out retries, and the current token
//!   is served until it really expires.
//! * **Process-local cache.** A process reuses a token for up to
//!   `local_cache_ttl` seconds without asking memcached, never past its
//!   refresh point.
//! * **memcached down.** Tokens are served from the process-local cache and,
//!   when it has none, fetched by this process alone: at most one upstream
//!   call per process per token lifetime. When memcached is back, a token
//!   fetched meanwhile is written back if it is newer than what is there.
//!
//! memcached holds, per key: the plain token under the key itself (what
//! legacy PHP code reads and writes), the token with its times under
//! `key:meta` (`v1 fetched_at refresh_at expires_at dies_at token`), and the
//! lock under `key:lock`. The plain key says which token is current; a
//! token there that `key:meta` does not describe (written by legacy code)
//! lives as long as memcached keeps it, and is replaced ahead like ours.
//!
//! Plain Rust over small traits, so `cargo test` runs the rules with a map
//! for memcached, a script for WeChat and a fake clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};


use crate::config::Secret;
use crate::error::WeixinError;
use crate::stats;

mod ports;
pub use ports::{Clock, FetchedToken, SharedStore, StoreError, StoreFault, SystemClock, TokenKind, Upstream};

/// memcached reads an expiry over 30 days as a Unix timestamp.
pub const MAX_RELATIVE_TTL: u64 = 30 * 24 * 3600;

/// Key suffixes; the longest one bounds the base key's length.
pub const META_SUFFIX: &str = ":meta";
pub const LOCK_SUFFIX: &str = ":lock";
pub const STABLE_SUFFIX: &str = ":stable";
pub const LONGEST_SUFFIX: usize = STABLE_SUFFIX.len() + META_SUFFIX.len();

/// How long waiters report a failed cold fetch before someone tries again.
const COLD_FAILURE_BACKOFF: u32 = 2;

/// The memcached keys of one token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    pub token: String,
    pub meta: String,
    pub lock: String,
}

impl Keys {
    /// `base` is the escaped key; stable tokens never share a plain token's keys.
    pub fn new(base: &str, stable: bool) -> Keys {
        let token = if stable { format!("{base}{STABLE_SUFFIX}") } else { base.to_string() };
        Keys {
            meta: format!("{token}{META_SUFFIX}"),
            lock: format!("{token}{LOCK_SUFFIX}"),
            token,
        }
    }
}

/// A token and what is known of its life (Unix seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub token: String,
    pub fetched_at: f64,
    /// From here on, one process should replace it.
    pub refresh_at: f64,
    /// Served until here.
    pub expires_at: f64,
    /// When WeChat's own lifetime (`expires_in`) ends.
    pub dies_at: f64,
    /// Found only under the plain key (legacy code): its times are
    /// memcached's expiry, or infinite.
    pub legacy: bool,
}

impl Entry {
    pub fn fresh(fetched: FetchedToken, now: f64, refresh_margin: u64) -> Entry {
        let lifetime = fetched.expires_in.clamp(1, MAX_RELATIVE_TTL);
        let refresh_after = cache_ttl(lifetime, refresh_margin) as u64;
        Entry {
            token: fetched.token,
            fetched_at: now,
            refresh_at: now + refresh_after as f64,
            expires_at: now + serve_ttl(lifetime, refresh_after) as f64,
            dies_at: now + lifetime as f64,
            legacy: false,
        }
    }

    /// A token cached by legacy code: nothing is known of it but how long
    /// memcached keeps it, and legacy code caches a token for its lifetime.
    /// So it is served until memcached drops it (less a second: memcached
    /// may drop it a second early) and due `refresh_margin` before, like
    /// ours; one with no expiry is used as it is.
    fn legacy(token: String, kept_for: Option<u32>, now: f64, refresh_margin: u64) -> Entry {
        let expires_at = kept_for.map_or(f64::INFINITY, |kept_for| now + f64::from(kept_for) - 1.0);
        Entry {
            token,
            fetched_at: 0.0,
            refresh_at: expires_at - refresh_margin as f64,
            expires_at,
            dies_at: expires_at + 1.0,
            legacy: true,
        }
    }

    fn encode(&self) -> String {
        format!(
            "v1 {:.3} {:.3} {:.3} {:.3} {}",
            self.fetched_at, self.refresh_at, self.expires_at, self.dies_at, self.token
        )
    }

    fn decode(value: &str) -> Option<Entry> {
        let mut parts = value.split(' ');
        if parts.next()? != "v1" {
            return None;
        }
        let mut time = || parts.next()?.parse::<f64>().ok().filter(|t| t.is_finite());
        let (fetched_at, refresh_at, expires_at, dies_at) = (time()?, time()?, time()?, time()?);
        let token = parts.next().filter(|t| crate::cache::is_token(t))?.to_string();
        if parts.next().is_some() {
            return None;
        }
        Some(Entry {
            token,
            fetched_at,
            refresh_at,
            expires_at,
            dies_at,
            legacy: false,
        })
    }

    /// Seconds memcached should keep it: a second past the time it is served
    /// until (memcached's clock ticks in whole seconds and may drop a key up
    /// to a second early), not into the next second after WeChat's own expiry.
    fn memcached_ttl(&self, now: f64) -> u32 {
        let kept = ((self.expires_at - now).ceil() + 1.0).min((self.dies_at - now).ceil());
        (kept.max(1.0) as u64).min(MAX_RELATIVE_TTL) as u32
    }
}

/// When a token is due for replacement: `expires_in - margin`, never 0
/// (memcached's "forever") or less, never past `expires_in`, never over 30
/// days (memcached's timestamp threshold). When the margin eats the whole
/// lifetime, half the lifetime is used.
pub fn cache_ttl(expires_in: u64, refresh_margin: u64) -> u32 {
    let lifetime = expires_in.clamp(1, MAX_RELATIVE_TTL);
    let ttl = if refresh_margin < lifetime {
        lifetime - refresh_margin
    } else {
        (lifetime / 2).max(1)
    };
    ttl as u32
}

/// How long a token is served and kept in memcached: its lifetime less a
/// guard (a tenth, at most a minute) for clock skew and the fetch's own
/// latency, never before its refresh point.
pub fn serve_ttl(lifetime: u64, refresh_after: u64) -> u64 {
    let guard = (lifetime / 10).min(60).max(u64::from(lifetime > 1));
    (lifetime - guard).max(refresh_after).max(1)
}

/// Seconds between retries of a failing refresh while the token still
/// lives: a tenth of what is left, between 2 seconds and a minute.
fn retry_spacing(seconds_left: f64) -> u32 {
    (seconds_left / 10.0).clamp(5.0, 60.0) as u32
}

/// The tunables of one lookup.
#[derive(Clone, Debug)]
pub struct Policy {
    pub refresh_margin: u64,
    pub local_cache_ttl: u64,
    /// Lifetime of the fetch lock: longer than one HTTP request can take.
    pub lock_ttl: u32,
    /// How long a waiter waits for another process's fetch before giving up.
    pub wait_limit: Duration,
    /// Stable tokens: a refresh may force a new one.
    pub stable: bool,
}

impl Policy {
    pub fn new(refresh_margin: u64, local_cache_ttl: u64, http_timeout: Duration, stable: bool) -> Policy {
        // memcached counts whole seconds and may expire a key up to a second
        // early: two more than the timeout keep the lock past any fetch.
        let lock_ttl = http_timeout.as_secs_f64().ceil() as u32 + 2;
        Policy {
            refresh_margin,
            local_cache_ttl,
            lock_ttl,
            wait_limit: Duration::from_secs(u64::from(lock_ttl)) + http_timeout + Duration::from_secs(1),
            stable,
        }
    }
}

/// Tokens this process holds: one slot per memcached pool and key, looked
/// up once per account (not per construction) and shared by every account
/// that uses that key.
#[derive(Default)]
pub struct LocalCache {
    slots: Mutex<HashMap<String, Arc<LocalSlot>>>,
}

impl LocalCache {
    pub fn new() -> LocalCache {
        LocalCache::default()
    }

    pub fn slot_count(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The slot for a pool and key. Past `limit` slots, those no account
    /// uses any more are dropped first.
    pub fn slot(&self, limit: usize, pool_and_key: &str) -> Arc<LocalSlot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.len() >= limit && !slots.contains_key(pool_and_key) {
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        Arc::clone(slots.entry(pool_and_key.to_string()).or_default())
    }
}

#[derive(Clone, Debug)]
struct Local {
    entry: Entry,
    cached_at: f64,
    /// Fetched while memcached was unreachable: to be written back.
    unsynced: bool,
    /// While memcached is down: no upstream retry before this time.
    retry_after: f64,
}

/// The token this process holds for one memcached pool and key.
#[derive(Default)]
pub struct LocalSlot(Mutex<Option<Local>>);

impl LocalSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Local>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self) -> Option<Local> {
        self.lock().clone()
    }

    /// The token alone, if `fresh` accepts the slot: the warm path, which
    /// copies nothing else.
    fn token_if(&self, fresh: impl FnOnce(&Local) -> bool) -> Option<String> {
        self.lock().as_ref().filter(|l| fresh(l)).map(|l| l.entry.token.clone())
    }

    fn put(&self, entry: Entry, now: f64, unsynced: bool) {
        *self.lock() = Some(Local {
            entry,
            cached_at: now,
            unsynced,
            retry_after: 0.0,
        });
    }

    fn delay_retry(&self, until: f64) {
        if let Some(local) = self.lock().as_mut() {
            local.retry_after = until;
        }
    }

    /// Forgets the token.
    pub fn clear(&self) {
        *self.lock() = None;
    }
}

/// What `try_lock` found.
enum Lock {
    Acquired(String),
    /// Another process is fetching.
    Held,
    /// Another process failed moments ago; its error.
    Failed(WeixinError),
}

/// One token lookup: which token, where, how.
pub struct TokenService<'a> {
    pub store: &'a dyn SharedStore,
    pub upstream: &'a dyn Upstream,
    pub clock: &'a dyn Clock,
    /// The token this process holds for this memcached pool and key.
    pub local: &'a LocalSlot,
    pub keys: &'a Keys,
    pub appid: &'a str,
    pub secret: &'a Secret<'a>,
    pub policy: &'a Policy,
    /// Reports memcached trouble (the PHP side raises one warning per request).
    pub warn: &'a dyn Fn(&WeixinError),
}

impl TokenService<'_> {
    /// The current token, fetched only when nobody has one.
    pub fn token(&self) -> Result<String, WeixinError> {
        let now = self.clock.now();
        let ttl = self.policy.local_cache_ttl as f64;
        let fresh = |l: &Local| !l.unsynced && now < l.cached_at + ttl && now < l.entry.refresh_at;
        if let Some(token) = self.local.token_if(fresh) {
            stats::LOCAL_HITS.fetch_add(1, Ordering::Relaxed);
            return Ok(token);
        }
        match self.read_shared() {
            Ok(found) => {
                let found = self.reconcile(found, now);
                match found {
                    Some(entry) if now < entry.refresh_at => {
                        stats::MEMCACHED_HITS.fetch_add(1, Ordering::Relaxed);
                        Ok(self.adopt(entry, now))
                    }
                    Some(entry) if now < entry.expires_at => {
                        stats::MEMCACHED_HITS.fetch_add(1, Ordering::Relaxed);
                        Ok(self.refresh_ahead(entry, now))
                    }
                    // Nothing shared (evicted, memcached restarted): a token
                    // this process still holds beats an error.
                    _ => self.cold_start().or_else(|error| self.still_held(now).ok_or(error)),
                }
            }
            Err(error) => self.without_memcached(error, now),
        }
    }

    /// A token to replace `bad`, which WeChat refused (40001, 40014,
    /// 42001): replaced everywhere only if the shared token is still `bad`,
    /// so many processes reporting one bad token cause one upstream call.
    pub fn refresh(&self, bad: &str) -> Result<String, WeixinError> {
        self.local.clear();
        let give_up = self.clock.now() + self.policy.wait_limit.as_secs_f64();
        let mut pause = Duration::from_millis(10);
        let mut waited = false;
        loop {
            let now = self.clock.now();
            match self.read_shared() {
                Ok(Some(entry)) if entry.token != bad && now < entry.expires_at => {
                    return Ok(self.adopt(entry, now));
                }
                Ok(_) => {}
                Err(error) => return self.refresh_without_memcached(error, bad),
            }
            match self.try_lock() {
                Ok(Lock::Acquired(id)) => {
                    return self.as_winner(&id, Some(bad));
                }
                Ok(Lock::Failed(error)) => return Err(error),
                Ok(Lock::Held) => {}
                Err(error) => return self.refresh_without_memcached(error, bad),
            }
            self.pause_for_winner(&mut pause, &mut waited, give_up)?;
        }
    }

    /// A due token: the lock's winner replaces it, everyone else (and the
    /// winner, if WeChat fails) keeps serving it.
    fn refresh_ahead(&self, current: Entry, now: f64) -> String {
        let Ok(Lock::Acquired(id)) = self.try_lock() else {
            return current.token;
        };
        if let Some(token) = self.published_meanwhile(&id, |e| e.token != current.token) {
            return token;
        }
        match self.fetch_and_publish(&id, None) {
            Ok(entry) => entry.token,
            Err(error) => {
                self.record_failure(&error, retry_spacing(current.expires_at - now));
                current.token
            }
        }
    }

    /// No token anywhere: one process fetches, the others wait for it.
    fn cold_start(&self) -> Result<String, WeixinError> {
        let give_up = self.clock.now() + self.policy.wait_limit.as_secs_f64();
        let mut pause = Duration::from_millis(10);
        let mut waited = false;
        loop {
            match self.try_lock() {
                Ok(Lock::Acquired(id)) => {
                    return self.as_winner(&id, None);
                }
                Ok(Lock::Failed(error)) => return Err(error),
                Ok(Lock::Held) => {}
                Err(error) => return self.without_memcached(error, self.clock.now()),
            }
            self.pause_for_winner(&mut pause, &mut waited, give_up)?;
            let now = self.clock.now();
            match self.read_shared() {
                Ok(Some(entry)) if now < entry.expires_at => return Ok(self.adopt(entry, now)),
                Ok(_) => {}
                Err(error) => return self.without_memcached(error, now),
            }
        }
    }

    fn pause_for_winner(&self, pause: &mut Duration, waited: &mut bool, give_up: f64) -> Result<(), WeixinError> {
        if !*waited {
            *waited = true;
            stats::LOCK_WAITS.fetch_add(1, Ordering::Relaxed);
        }
        if self.clock.now() > give_up {
            return Err(WeixinError::local(format!(
                "gave up after {:.0}s waiting for another process's token request (memcached key {}; \
                 that process may be stuck: see weixin.timeout)",
                self.policy.wait_limit.as_secs_f64(),
                self.keys.lock
            )));
        }
        self.clock.sleep(*pause);
        *pause = (*pause * 2).min(Duration::from_millis(100));
        Ok(())
    }

    /// The shared token. The plain key is what legacy code reads and
    /// writes, so it says which token is current; `:meta` only adds what is
    /// known of that token's life. A plain token that `:meta` does not
    /// describe was written by legacy code and is used as it is; no plain
    /// key means no token, even if `:meta` is left (deleting the key forces a
    /// new token, as it did with the legacy class). A token this process
    /// already knows needs no `:meta` read: one round trip, as for legacy code.
    fn read_shared(&self) -> Result<Option<Entry>, WeixinError> {
        let Some((token, kept_for)) = self.store.get_with_ttl(&self.keys.token)?.filter(|(v, _)| crate::cache::is_token(v))
        else {
            return Ok(None);
        };
        if let Some(known) = self.local.get().filter(|l| l.entry.token == token) {
            return Ok(Some(known.entry));
        }
        let meta = self.store.get(&self.keys.meta)?.as_deref().and_then(Entry::decode);
        Ok(Some(match meta {
            Some(entry) if entry.token == token => entry,
            _ => Entry::legacy(token, kept_for, self.clock.now(), self.policy.refresh_margin),
        }))
    }

    /// memcached answers again after this process fetched a token without
    /// it: that token invalidated the one memcached may still hold (if it
    /// kept its data), so it is written back unless memcached holds a newer
    /// one. Tokens this process merely read are never written back: after a
    /// restart, one of them may have been invalidated meanwhile.
    fn reconcile(&self, shared: Option<Entry>, now: f64) -> Option<Entry> {
        let Some(local) = self.local.get().filter(|l| l.unsynced && now < l.entry.expires_at) else {
            return shared;
        };
        let ours_is_newer = match &shared {
            None => true,
            Some(entry) => !entry.legacy && entry.fetched_at < local.entry.fetched_at,
        };
        if !ours_is_newer {
            self.local.clear();
            return shared;
        }
        if self.publish(&local.entry, now).is_ok() {
            self.local.put(local.entry.clone(), now, false);
        }
        Some(local.entry)
    }

    /// The token this process last had, if it is still served.
    fn still_held(&self, now: f64) -> Option<String> {
        self.local.get().filter(|l| now < l.entry.expires_at).map(|l| l.entry.token)
    }

    /// Takes a shared token as this process's: kept in the local cache
    /// unless nothing is known of its life (a legacy token with no expiry).
    fn adopt(&self, entry: Entry, now: f64) -> String {
        if entry.expires_at.is_finite() {
            self.local.put(entry.clone(), now, false);
        }
        entry.token
    }

    /// The lock's winner when no usable token exists (cold start, or a
    /// reported bad token): fetches and shares one; a failure is left in
    /// the lock for the others for a short back-off.
    fn as_winner(&self, lock: &str, replacing: Option<&str>) -> Result<String, WeixinError> {
        if let Some(token) = self.published_meanwhile(lock, |e| Some(e.token.as_str()) != replacing) {
            return Ok(token);
        }
        self.fetch_and_publish(lock, replacing)
            .map(|e| e.token)
            .inspect_err(|error| self.record_failure(error, COLD_FAILURE_BACKOFF))
    }

    /// Just after winning the lock: a token that another process published
    /// between this process's look and its lock, if `wanted` accepts it. The
    /// lock is given back then; fetching again would only invalidate it.
    fn published_meanwhile(&self, lock: &str, wanted: impl Fn(&Entry) -> bool) -> Option<String> {
        let now = self.clock.now();
        let entry = self
            .read_shared()
            .ok()
            .flatten()
            .filter(|e| now < e.expires_at && wanted(e))?;
        let _ = self.store.delete_if(&self.keys.lock, lock);
        Some(self.adopt(entry, now))
    }

    fn try_lock(&self) -> Result<Lock, WeixinError> {
        if let Some(holder) = self.store.get(&self.keys.lock)? {
            return Ok(read_lock(&holder));
        }
        let id = lock_id();
        if self.store.add(&self.keys.lock, &id, self.policy.lock_ttl)? {
            return Ok(Lock::Acquired(id));
        }
        Ok(match self.store.get(&self.keys.lock)? {
            Some(holder) => read_lock(&holder),
            None => Lock::Held,
        })
    }

    /// Fetches a new token (see `fetch_new`), shares it, releases the lock.
    fn fetch_and_publish(&self, lock: &str, replacing: Option<&str>) -> Result<Entry, WeixinError> {
        let entry = self.fetch_new(replacing)?;
        let now = self.clock.now();
        let shared = self.publish(&entry, now);
        let _ = self.store.delete_if(&self.keys.lock, lock);
        if let Err(error) = &shared {
            (self.warn)(error);
        }
        self.local.put(entry.clone(), now, shared.is_err());
        Ok(entry)
    }

    /// A new token from WeChat. With `replacing`, a stable token that comes
    /// back unchanged is forced (the only place that spends the daily force
    /// quota).
    fn fetch_new(&self, replacing: Option<&str>) -> Result<Entry, WeixinError> {
        let mut fetched = self.fetch(false)?;
        if self.policy.stable && replacing == Some(fetched.token.as_str()) {
            fetched = self.fetch(true)?;
        }
        Ok(Entry::fresh(fetched, self.clock.now(), self.policy.refresh_margin))
    }

    fn fetch(&self, force: bool) -> Result<FetchedToken, WeixinError> {
        stats::UPSTREAM_CALLS.fetch_add(1, Ordering::Relaxed);
        let kind = if self.policy.stable { TokenKind::Stable { force } } else { TokenKind::Plain };
        self.upstream.fetch(self.appid, self.secret, kind).inspect_err(|_| {
            stats::UPSTREAM_ERRORS.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// Writes the token for both kinds of readers: the plain key (legacy
    /// code, and the one that says which token is current), then `:meta`.
    /// A reader between the two sees the new token without its record.
    fn publish(&self, entry: &Entry, now: f64) -> Result<(), WeixinError> {
        let ttl = entry.memcached_ttl(now);
        self.store.set(&self.keys.token, &entry.token, ttl)?;
        Ok(self.store.set(&self.keys.meta, &entry.encode(), ttl)?)
    }

    /// Leaves `error` in the lock for `seconds`: until then nobody calls
    /// WeChat for this key, and waiters report it.
    fn record_failure(&self, error: &WeixinError, seconds: u32) {
        let marker = format!("failed {} {}", error.code, error.message.replace(['\r', '\n'], " "));
        let _ = self.store.set(&self.keys.lock, &marker, seconds);
    }

    /// memcached is unreachable: this process serves what it holds, and
    /// fetches on its own only when it holds nothing usable.
    fn without_memcached(&self, error: WeixinError, now: f64) -> Result<String, WeixinError> {
        (self.warn)(&error);
        let held = self.local.get().filter(|l| now < l.entry.expires_at);
        if let Some(local) = &held {
            if now < local.entry.refresh_at || now < local.retry_after {
                stats::LOCAL_HITS.fetch_add(1, Ordering::Relaxed);
                return Ok(local.entry.token.clone());
            }
        }
        match self.fetch_new(None) {
            Ok(entry) => {
                self.local.put(entry.clone(), now, true);
                Ok(entry.token)
            }
            Err(fetch_error) => match held {
                Some(local) => {
                    self.local.delay_retry(now + f64::from(retry_spacing(local.entry.expires_at - now)));
                    Ok(local.entry.token)
                }
                None => Err(fetch_error),
            },
        }
    }

    fn refresh_without_memcached(&self, error: WeixinError, bad: &str) -> Result<String, WeixinError> {
        (self.warn)(&error);
        let entry = self.fetch_new(Some(bad))?;
        self.local.put(entry.clone(), self.clock.now(), true);
        Ok(entry.token)
    }
}

fn read_lock(holder: &str) -> Lock {
    match holder.strip_prefix("failed ") {
        Some(rest) => {
            let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
            Lock::Failed(WeixinError {
                code: code.parse().unwrap_or(0),
                message: format!(
                    "{message} (a token request for this key failed moments ago; the next one is made in a few seconds)"
                ),
            })
        }
        None => Lock::Held,
    }
}

/// A lock value no other process (on any machine) can produce.
fn lock_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static HOST: once_cell::sync::Lazy<String> = once_cell::sync::Lazy::new(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into())
            .chars()
            .filter(char::is_ascii_graphic)
            .collect()
    });
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!(
        "fetching {}:{}:{}:{}",
        *HOST,
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    /// Key → (value, expiry on the fake clock).
    type Values = HashMap<String, (String, f64)>;
    type GetHook = Box<dyn FnMut(&str, &mut Values)>;

    /// memcached as a map with TTLs on the fake clock; can be switched off.
    struct MapStore<'c> {
        clock: &'c FakeClock,
        values: RefCell<Values>,
        down: Cell<bool>,
        gets: Cell<u32>,
        /// Called on each get: lets a test act as "another process".
        on_get: RefCell<Option<GetHook>>,
    }

    impl<'c> MapStore<'c> {
        fn new(clock: &'c FakeClock) -> Self {
            MapStore { clock, values: RefCell::default(), down: Cell::new(false), gets: Cell::new(0), on_get: RefCell::new(None) }
        }
        fn check(&self) -> Result<(), StoreError> {
            if self.down.get() { Err(StoreError::new(StoreFault::Unreachable, "memcached down")) } else { Ok(()) }
        }
        /// Like memcached, whose clock ticks in whole seconds: a key may go
        /// up to a second before its TTL.
        fn put(&self, key: &str, value: &str, ttl: u32) {
            self.values.borrow_mut().insert(key.into(), (value.into(), self.clock.now().floor() + f64::from(ttl)));
        }
        fn value(&self, key: &str) -> Option<String> {
            let now = self.clock.now();
            self.values.borrow().get(key).filter(|(_, exp)| *exp > now).map(|(v, _)| v.clone())
        }
    }

    impl SharedStore for MapStore<'_> {
        fn get_with_ttl(&self, key: &str) -> Result<Option<(String, Option<u32>)>, StoreError> {
            let Some(value) = self.get(key)? else { return Ok(None) };
            let expiry = self.values.borrow()[key].1;
            // As memcached counts: whole seconds on its coarse clock.
            let left = expiry.is_finite().then(|| (expiry - self.clock.now().floor()) as u32);
            Ok(Some((value, left)))
        }
        fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
            self.check()?;
            self.gets.set(self.gets.get() + 1);
            if let Some(hook) = self.on_get.borrow_mut().as_mut() {
                hook(key, &mut self.values.borrow_mut());
            }
            Ok(self.value(key))
        }
        fn set(&self, key: &str, value: &str, ttl: u32) -> Result<(), StoreError> {
            self.check()?;
            self.put(key, value, ttl);
            Ok(())
        }
        fn add(&self, key: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
            self.check()?;
            if self.value(key).is_some() {
                return Ok(false);
            }
            self.put(key, value, ttl);
            Ok(true)
        }
        fn replace_if(&self, key: &str, expected: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
            self.check()?;
            if self.value(key).as_deref() != Some(expected) {
                return Ok(false);
            }
            self.put(key, value, ttl);
            Ok(true)
        }
        fn delete_if(&self, key: &str, expected: &str) -> Result<(), StoreError> {
            self.check()?;
            if self.value(key).as_deref() == Some(expected) {
                self.values.borrow_mut().remove(key);
            }
            Ok(())
        }
    }

    /// Time that moves only when told, or by `step` at each reading (as
    /// real time moves between the readings around a fetch).
    struct FakeClock(Cell<f64>, Cell<f64>);

    impl Clock for FakeClock {
        fn now(&self) -> f64 {
            let now = self.0.get();
            self.0.set(now + self.1.get());
            now
        }
        fn sleep(&self, duration: Duration) {
            self.0.set(self.0.get() + duration.as_secs_f64());
        }
    }

    impl FakeClock {
        fn advance(&self, seconds: f64) {
            self.0.set(self.0.get() + seconds);
        }
    }

    /// WeChat: numbered tokens, or scripted failures.
    #[derive(Default)]
    struct Script {
        calls: Cell<u32>,
        forced: Cell<u32>,
        failing: Cell<bool>,
        expires_in: Cell<u64>,
        /// Stable mode: a non-forced call returns this token.
        stable_current: RefCell<Option<String>>,
    }

    impl Upstream for Script {
        fn fetch(&self, _: &str, _: &Secret, kind: TokenKind) -> Result<FetchedToken, WeixinError> {
            let force = kind == TokenKind::Stable { force: true };
            self.calls.set(self.calls.get() + 1);
            if force {
                self.forced.set(self.forced.get() + 1);
            }
            if self.failing.get() {
                return Err(WeixinError::wechat(-1, "system error"));
            }
            let expires_in = match self.expires_in.get() { 0 => 7200, e => e };
            if !force {
                if let Some(token) = self.stable_current.borrow().clone() {
                    return Ok(FetchedToken { token, expires_in });
                }
            }
            Ok(FetchedToken { token: format!("T{}", self.calls.get()), expires_in })
        }
    }

    struct World {
        clock: FakeClock,
        upstream: Script,
        local: LocalSlot,
        warnings: Cell<u32>,
    }

    impl World {
        fn new() -> World {
            World { clock: FakeClock(Cell::new(1_000_000.0), Cell::new(0.0)), upstream: Script::default(), local: LocalSlot::default(), warnings: Cell::new(0) }
        }
    }

    fn service<'a>(world: &'a World, store: &'a MapStore<'a>, warn: &'a dyn Fn(&WeixinError), stable: bool) -> TokenService<'a> {
        TokenService {
            store,
            upstream: &world.upstream,
            clock: &world.clock,
            local: &world.local,
            keys: Box::leak(Box::new(Keys::new("k", stable))),
            appid: "wx",
            secret: Box::leak(Box::new(Secret::new("s"))),
            policy: Box::leak(Box::new(Policy::new(300, 60, Duration::from_secs(5), stable))),
            warn,
        }
    }

    /// The same service with another refresh margin and local-cache TTL.
    fn with_policy(svc: TokenService<'_>, refresh_margin: u64, local_cache_ttl: u64) -> TokenService<'_> {
        let policy = Policy::new(refresh_margin, local_cache_ttl, Duration::from_secs(5), false);
        TokenService { policy: Box::leak(Box::new(policy)), ..svc }
    }

    macro_rules! setup {
        ($world:ident, $store:ident, $svc:ident) => {
            setup!($world, $store, $svc, false)
        };
        ($world:ident, $store:ident, $svc:ident, $stable:expr) => {
            let $world = World::new();
            let $store = MapStore::new(&$world.clock);
            let warn = |_: &WeixinError| $world.warnings.set($world.warnings.get() + 1);
            let $svc = service(&$world, &$store, &warn, $stable);
        };
    }

    #[test]
    fn cold_start_fetches_once_and_shares_for_both_kinds_of_readers() {
        setup!(world, store, svc);
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(store.value("k").as_deref(), Some("T1"));
        let meta = Entry::decode(&store.value("k:meta").unwrap()).unwrap();
        assert_eq!(meta.refresh_at - meta.fetched_at, 6900.0);
        assert_eq!(meta.expires_at - meta.fetched_at, 7140.0);
        assert_eq!(store.value("k:lock"), None, "the lock is released");
        // A second process (empty local cache) takes it from memcached.
        world.local.clear();
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(world.upstream.calls.get(), 1);
    }

    #[test]
    fn the_local_cache_answers_without_memcached_until_its_ttl() {
        setup!(world, store, svc);
        svc.token().unwrap();
        store.down.set(true);
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(world.warnings.get(), 0, "memcached was not asked");
        world.clock.advance(61.0);
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(world.warnings.get(), 1);
    }

    /// What another process's `publish` leaves in memcached.
    fn published_elsewhere(values: &mut Values, meta: &str) {
        let token = meta.rsplit(' ').next().unwrap();
        values.insert("k".into(), (token.into(), f64::INFINITY));
        values.insert("k:meta".into(), (meta.into(), f64::INFINITY));
    }

    #[test]
    fn a_waiter_takes_the_winners_token_instead_of_fetching() {
        setup!(world, store, svc);
        store.put("k:lock", "fetching elsewhere", 7);
        // The other process publishes on the third poll.
        let polls = Cell::new(0);
        *store.on_get.borrow_mut() = Some(Box::new(move |key, values| {
            if key == "k" {
                polls.set(polls.get() + 1);
                if polls.get() == 3 {
                    published_elsewhere(values, "v1 1000000 1006900 1007140 1007200 OTHER");
                }
            }
        }));
        assert_eq!(svc.token().unwrap(), "OTHER");
        assert_eq!(world.upstream.calls.get(), 0);
    }

    #[test]
    fn a_token_published_between_the_look_and_the_lock_is_taken_not_fetched_again() {
        setup!(world, store, svc);
        // Another process publishes just as this one asks for the lock.
        *store.on_get.borrow_mut() = Some(Box::new(|key, values| {
            if key == "k:lock" && !values.contains_key("k:meta") {
                published_elsewhere(values, "v1 1000000 1006900 1007140 1007200 OTHER");
            }
        }));
        assert_eq!(svc.token().unwrap(), "OTHER");
        assert_eq!(world.upstream.calls.get(), 0);
        assert_eq!(store.value("k:lock"), None, "the lock was given back");
    }

    #[test]
    fn a_due_token_replaced_between_the_look_and_the_lock_is_not_replaced_twice() {
        setup!(world, store, svc);
        svc.token().unwrap();
        world.clock.advance(6900.0);
        let replaced = "v1 1006900 1013800 1014040 1014100 T9";
        *store.on_get.borrow_mut() = Some(Box::new(move |key, values| {
            if key == "k:lock" {
                published_elsewhere(values, replaced);
            }
        }));
        assert_eq!(svc.token().unwrap(), "T9");
        assert_eq!(world.upstream.calls.get(), 1);
    }

    #[test]
    fn a_dead_winners_lock_lapses_and_a_waiter_takes_over() {
        setup!(world, store, svc);
        store.put("k:lock", "fetching dead-process", 7);
        let started = world.clock.now();
        assert_eq!(svc.token().unwrap(), "T1");
        assert!(world.clock.now() - started >= 7.0 - 1.0);
        assert_eq!(world.upstream.calls.get(), 1);
    }

    #[test]
    fn a_failed_cold_fetch_is_reported_to_waiters_without_more_calls() {
        setup!(world, store, svc);
        world.upstream.failing.set(true);
        assert_eq!(svc.token().unwrap_err().code, -1);
        assert_eq!(svc.token().unwrap_err().code, -1);
        assert_eq!(world.upstream.calls.get(), 1, "the back-off held the second caller");
        assert!(store.value("k").is_none() && store.value("k:meta").is_none());
        world.clock.advance(3.0);
        svc.token().unwrap_err();
        assert_eq!(world.upstream.calls.get(), 2, "retried after the back-off");
    }

    #[test]
    fn a_due_token_is_replaced_once_while_others_keep_using_it() {
        setup!(world, store, svc);
        svc.token().unwrap();
        world.clock.advance(6900.0);
        // Someone else holds the lock: this process serves the current token, no wait.
        store.put("k:lock", "fetching elsewhere", 7);
        let before = world.clock.now();
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(world.clock.now(), before, "did not wait");
        store.values.borrow_mut().remove("k:lock");
        // Now this process wins and replaces it.
        assert_eq!(svc.token().unwrap(), "T2");
        assert_eq!(store.value("k").as_deref(), Some("T2"));
        assert_eq!(world.upstream.calls.get(), 2);
    }

    #[test]
    fn a_failing_refresh_serves_the_current_token_until_expiry_with_spaced_retries() {
        setup!(world, store, svc);
        svc.token().unwrap();
        world.upstream.failing.set(true);
        world.clock.advance(6900.0);
        let mut served = 0;
        while world.clock.now() < 1_000_000.0 + 7139.0 {
            assert_eq!(svc.token().unwrap(), "T1");
            served += 1;
            world.clock.advance(0.5);
        }
        let retries = world.upstream.calls.get() - 1;
        assert!(served > 400);
        assert!((3..=30).contains(&retries), "{retries} retries in 240 s");
        // Past its expiry there is no token left: the failure surfaces.
        world.clock.advance(2.0);
        world.local.clear();
        assert!(svc.token().is_err());
    }

    #[test]
    fn a_short_lived_token_stays_in_memcached_while_it_is_served() {
        // expires_in 8, margin 3, no local cache; the fetch ends late in one
        // of memcached's whole seconds, and time passes while it publishes.
        setup!(world, store, svc);
        let svc = with_policy(svc, 3, 0);
        world.upstream.expires_in.set(8);
        world.clock.advance(0.9);
        world.clock.1.set(0.001);
        let first = svc.token().unwrap();
        world.upstream.failing.set(true);
        let meta = Entry::decode(&store.value("k:meta").unwrap()).unwrap();
        while world.clock.now() < meta.expires_at - 0.01 {
            let at = world.clock.now() - meta.fetched_at;
            assert_eq!(svc.token().map_err(|e| format!("+{at:.2}s: {}", e.message)), Ok(first.clone()));
            world.clock.advance(0.05);
        }
    }

    #[test]
    fn a_token_evicted_from_memcached_is_still_served_while_wechat_fails() {
        setup!(world, store, svc);
        assert_eq!(svc.token().unwrap(), "T1");
        world.upstream.failing.set(true);
        world.clock.advance(6950.0);
        store.values.borrow_mut().clear();
        // The one that tries and fails, and the ones told of its failure.
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(world.upstream.calls.get(), 2);
        // A process that never had it has nothing to serve.
        world.local.clear();
        assert!(svc.token().is_err());
    }

    #[test]
    fn the_plain_key_says_which_token_is_current() {
        setup!(world, store, svc);
        let svc = with_policy(svc, 300, 0);
        assert_eq!(svc.token().unwrap(), "T1");
        // A known token costs one round trip, as for legacy code.
        let gets = store.gets.get();
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(store.gets.get() - gets, 1);
        // Legacy code replaced it (its fetch invalidated T1): its token wins.
        store.put("k", "LEGACY", 7200);
        assert_eq!(svc.token().unwrap(), "LEGACY");
        world.local.clear();
        assert_eq!(svc.token().unwrap(), "LEGACY");
        // Deleting the key forces a new token, as with the legacy class,
        // whatever `:meta` still says.
        store.values.borrow_mut().remove("k");
        assert_eq!(svc.token().unwrap(), "T2");
        assert_eq!(store.value("k").as_deref(), Some("T2"));
        assert_eq!(world.upstream.calls.get(), 2);
    }

    #[test]
    fn unused_slots_go_when_the_limit_is_reached() {
        let cache = LocalCache::new();
        let kept = cache.slot(2, "a");
        kept.put(Entry::fresh(FetchedToken { token: "A".into(), expires_in: 7200 }, 0.0, 300), 0.0, false);
        drop(cache.slot(2, "b"));
        drop(cache.slot(2, "c")); // "b" is unused: dropped
        assert_eq!(cache.slots.lock().unwrap().len(), 2);
        assert!(Arc::ptr_eq(&kept, &cache.slot(2, "a")), "a slot in use stays");
        assert_eq!(cache.slot(2, "a").get().unwrap().entry.token, "A");
    }

    #[test]
    fn legacy_tokens_without_expiry_are_used_as_they_are() {
        setup!(world, store, svc);
        store.values.borrow_mut().insert("k".into(), ("LEGACY".into(), f64::INFINITY));
        world.clock.advance(100_000.0);
        assert_eq!(svc.token().unwrap(), "LEGACY");
        assert_eq!(svc.token().unwrap(), "LEGACY");
        assert_eq!(world.upstream.calls.get(), 0);
    }

    #[test]
    fn legacy_tokens_are_kept_locally_and_replaced_ahead_of_their_expiry() {
        // Cached as the legacy class caches one: for its 7200 s lifetime.
        setup!(world, store, svc);
        store.put("k", "LEGACY", 7200);
        assert_eq!(svc.token().unwrap(), "LEGACY");
        let gets = store.gets.get();
        assert_eq!(svc.token().unwrap(), "LEGACY");
        assert_eq!(store.gets.get(), gets, "the local cache answers");
        world.clock.advance(6850.0);
        assert_eq!(svc.token().unwrap(), "LEGACY", "not due yet");
        world.clock.advance(100.0); // within the 300 s margin
        assert_eq!(svc.token().unwrap(), "T1", "replaced ahead");
        world.local.clear();
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(store.value("k").as_deref(), Some("T1"), "legacy code reads the new one");
        assert_eq!(world.upstream.calls.get(), 1);
    }

    #[test]
    fn refresh_replaces_a_bad_token_once() {
        setup!(world, store, svc);
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(svc.refresh("T1").unwrap(), "T2");
        // Others reporting the same bad token get the new one, no call.
        for _ in 0..50 {
            world.local.clear();
            assert_eq!(svc.refresh("T1").unwrap(), "T2");
        }
        assert_eq!(world.upstream.calls.get(), 2);
    }

    #[test]
    fn stable_tokens_use_their_own_keys_and_force_only_on_refresh() {
        setup!(world, store, svc, true);
        *world.upstream.stable_current.borrow_mut() = Some("S1".into());
        assert_eq!(svc.token().unwrap(), "S1");
        assert_eq!(store.value("k:stable").as_deref(), Some("S1"));
        assert!(store.value("k").is_none());
        world.clock.advance(6900.0);
        svc.token().unwrap(); // refresh ahead: not forced
        assert_eq!(world.upstream.forced.get(), 0);
        assert_ne!(svc.refresh("S1").unwrap(), "S1");
        assert_eq!(world.upstream.forced.get(), 1);
    }

    #[test]
    fn without_memcached_one_fetch_per_process_per_token_lifetime() {
        setup!(world, store, svc);
        store.down.set(true);
        for _ in 0..100 {
            assert_eq!(svc.token().unwrap(), "T1");
            world.clock.advance(60.0);
        }
        // 6000 s later, still inside T1's refresh point.
        assert_eq!(world.upstream.calls.get(), 1);
        world.clock.advance(1000.0);
        assert_eq!(svc.token().unwrap(), "T2");
        assert_eq!(world.upstream.calls.get(), 2);
    }

    #[test]
    fn a_token_fetched_during_an_outage_is_written_back() {
        setup!(world, store, svc);
        store.down.set(true);
        assert_eq!(svc.token().unwrap(), "T1");
        store.down.set(false);
        world.clock.advance(61.0);
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(store.value("k").as_deref(), Some("T1"));
        assert_eq!(world.upstream.calls.get(), 1);
    }

    #[test]
    fn a_restarted_empty_memcached_gets_a_new_token_not_a_possibly_dead_one() {
        setup!(world, store, svc);
        svc.token().unwrap();
        store.values.borrow_mut().clear();
        world.clock.advance(61.0);
        assert_eq!(svc.token().unwrap(), "T2");
        assert_eq!(store.value("k").as_deref(), Some("T2"));
    }

    #[test]
    fn an_outage_token_replaces_an_older_one_that_memcached_kept() {
        setup!(world, store, svc);
        assert_eq!(svc.token().unwrap(), "T1");
        store.down.set(true);
        world.clock.advance(7000.0);
        assert_eq!(svc.token().unwrap(), "T2", "due, fetched without memcached");
        store.down.set(false);
        // memcached kept T1 (refreshed elsewhere long ago would be newer; this is older).
        assert_eq!(svc.token().unwrap(), "T2");
        assert_eq!(store.value("k").as_deref(), Some("T2"));
    }

    #[test]
    fn meta_records_round_trip_and_reject_garbage() {
        let entry = Entry::fresh(FetchedToken { token: "ABC".into(), expires_in: 7200 }, 100.0, 300);
        assert_eq!(Entry::decode(&entry.encode()), Some(entry));
        for bad in ["", "v1", "v2 1 2 3 4 T", "v1 a 2 3 4 T", "v1 1 2 3 4", "v1 1 2 3 4 A B", "v1 1 2 3 T"] {
            assert_eq!(Entry::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ttl_is_clamped() {
        assert_eq!(cache_ttl(7200, 300), 6900);
        assert_eq!(cache_ttl(300, 300), 150);
        assert_eq!(cache_ttl(200, 300), 100);
        assert_eq!(cache_ttl(1, 300), 1);
        assert_eq!(cache_ttl(0, 300), 1);
        assert_eq!(cache_ttl(7200, 0), 7200);
        assert_eq!(cache_ttl(10_000_000, 300), (MAX_RELATIVE_TTL - 300) as u32);
        for expires in [1, 2, 5, 299, 300, 301, 7200, u64::MAX] {
            for margin in [0, 1, 300, 7200, u64::MAX] {
                let refresh = u64::from(cache_ttl(expires, margin));
                let serve = serve_ttl(expires.clamp(1, MAX_RELATIVE_TTL), refresh);
                assert!(refresh >= 1 && refresh <= expires && refresh <= MAX_RELATIVE_TTL, "{expires} {margin}");
                assert!(serve >= refresh && serve <= expires && serve <= MAX_RELATIVE_TTL, "{expires} {margin}");
            }
        }
        assert_eq!(serve_ttl(7200, 6900), 7140);
        assert_eq!(serve_ttl(300, 150), 270);
    }
}
