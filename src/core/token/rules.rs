//! The rules: many processes, one token. See the module docs.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::entry::{is_token, Entry};
use super::keys::Keys;
use super::local::{Held, LocalSlot, Origin};
use super::lock::{self, Failure, LockValue};
use super::policy::{
    Policy, COLD_FAILURE_BACKOFF, DEGRADED_CALLS_PER_MINUTE, LOOK_AGAIN_WHILE_REPLACED, STABLE_END_GUARD,
};
use super::ports::{
    BackgroundRefresh, Clock, FetchedToken, Handoff, MachineShare, SharedStore, StoreError, StoreFault, TokenKind,
    Upstream,
};
use crate::error::WeixinError;
use crate::secret::Secret;
use crate::stats;

/// Why a lookup wants the lock: decides which failure markers it respects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// No valid token exists.
    Cold,
    /// An API refused the token (`refresh`).
    Replace,
    /// The token is due but still valid: replaced ahead, never waited for.
    Ahead,
}

/// What `try_lock` found.
enum Lock {
    /// This process holds the lock; the value it wrote.
    Acquired(String),
    /// Another process holds it: its declared hold, and for how long this
    /// process has seen it.
    Held { hold: u32, seen_for: f64 },
    /// A process with the same credentials and upstream failed moments ago.
    Failed(WeixinError),
}

/// The replacement of a due token, handed by the lookup that found it due
/// to whoever finishes it (`TokenService::finish_ahead`), usually a thread
/// of this process (`BackgroundRefresh`).
#[derive(Clone, Debug)]
pub struct AheadJob {
    work: AheadWork,
    /// The token being replaced: served meanwhile, and again if WeChat fails.
    current: Entry,
    /// When the lookup found it due (this process's clock).
    seen_at: f64,
}

#[derive(Clone, Debug)]
enum AheadWork {
    /// This process holds the lock (its value): fetch, publish, release;
    /// or leave a marker that spaces the retries.
    Shared { lock: String },
    /// memcached is unreachable or full: the stable token, for this
    /// process (and the machine's others), as a lookup would ask for it.
    Degraded,
}

/// One token lookup: which token, where, how.
pub struct TokenService<'a> {
    pub store: &'a dyn SharedStore,
    pub upstream: &'a dyn Upstream,
    /// The other processes of this machine, while memcached is away.
    pub machine: Option<&'a dyn MachineShare>,
    /// Where a due token's replacement is finished: off this lookup's path.
    pub background: &'a dyn BackgroundRefresh,
    pub clock: &'a dyn Clock,
    /// The token this process holds for this memcached pool and key.
    pub local: &'a LocalSlot,
    pub keys: &'a Keys,
    pub appid: &'a str,
    pub secret: &'a Secret<'a>,
    /// Besides the credentials, what decides whose failure a marker is:
    /// the API base URL and the CA setting.
    pub upstream_id: &'a str,
    pub policy: &'a Policy,
    /// Reports memcached trouble (the PHP side raises one warning per request).
    pub warn: &'a dyn Fn(&WeixinError),
}

impl TokenService<'_> {
    /// The current token, fetched only when nobody has one.
    pub fn token(&self) -> Result<String, WeixinError> {
        let now = self.clock.now();
        let ttl = self.policy.local_cache_ttl as f64;
        // Not due yet, or due and being replaced (served a moment more).
        let fresh = |h: &Held| {
            h.origin == Origin::Shared
                && now < h.cached_at + ttl
                && (now < h.entry.refresh_at || (now < h.replaced_until && now < h.entry.expires_at))
        };
        if let Some(token) = self.local.token_if(fresh) {
            stats::LOCAL_HITS.fetch_add(1, Ordering::Relaxed);
            return Ok(token);
        }
        let shared = match self.read_shared() {
            Ok(shared) => shared,
            Err(error) => return self.degraded(error, now),
        };
        let (shared, superseded) = self.after_outage(shared, now);
        match shared {
            Some(entry) if now < entry.refresh_at => {
                stats::MEMCACHED_HITS.fetch_add(1, Ordering::Relaxed);
                Ok(self.adopt(entry, now))
            }
            Some(entry) if now < entry.expires_at => {
                stats::MEMCACHED_HITS.fetch_add(1, Ordering::Relaxed);
                Ok(self.refresh_ahead(entry, now))
            }
            // Nothing usable shared (evicted, memcached restarted): if no new
            // one can be had, a token this process still holds beats an error.
            _ => self.cold_start(superseded.as_deref()).or_else(|error| self.still_held(now).ok_or(error)),
        }
    }

    /// Whether this process handed out `token` for this key (lately).
    pub fn issued(&self, token: &str) -> bool {
        self.local.issued(token)
    }

    /// A token to replace `bad`, which WeChat refused (40001, 40014,
    /// 42001): replaced everywhere only if the shared token is still `bad`,
    /// so many processes reporting one bad token cause one upstream call.
    pub fn refresh(&self, bad: &str) -> Result<String, WeixinError> {
        {
            let mut state = self.local.state();
            if state.held.as_ref().is_some_and(|h| h.entry.token == bad) {
                state.held = None;
            }
        }
        let mut give_up = self.clock.now() + self.policy.wait_for(self.policy.lock_hold);
        let mut pause = Duration::from_millis(10);
        let mut waited = false;
        loop {
            let now = self.clock.now();
            match self.read_shared() {
                Ok(Some(entry)) if entry.token != bad && now < entry.expires_at => {
                    return Ok(self.adopt(entry, now));
                }
                Ok(_) => {}
                Err(error) => return self.refresh_degraded(error, bad),
            }
            match self.try_lock(Purpose::Replace) {
                Ok(Lock::Acquired(lock)) => return self.as_winner(&lock, Some(bad)),
                Ok(Lock::Failed(error)) => return Err(error),
                Ok(Lock::Held { hold, seen_for }) => {
                    give_up = give_up.max(now - seen_for + self.policy.wait_for(hold));
                }
                Err(error) => return self.refresh_degraded(error, bad),
            }
            self.pause_for_winner(&mut pause, &mut waited, give_up)?;
        }
    }

    /// A due token: the lock's winner has it replaced off its path (a
    /// thread of its process), and everyone, the winner included, keeps
    /// serving it until the new one is published.
    fn refresh_ahead(&self, current: Entry, now: f64) -> String {
        if self.background.running() {
            return self.while_replaced(current, now);
        }
        let lock = match self.try_lock(Purpose::Ahead) {
            Ok(Lock::Acquired(lock)) => lock,
            // Another process replaces it (or failed to, moments ago).
            Ok(_) => return self.while_replaced(current, now),
            Err(error) => {
                (self.warn)(&error.into());
                return current.token;
            }
        };
        self.hand_off(AheadJob { work: AheadWork::Shared { lock }, current, seen_at: now })
    }

    /// Hands `job` to the background; the token to serve now: the current
    /// one, unless the job had to be finished here.
    fn hand_off(&self, job: AheadJob) -> String {
        let seen_at = job.seen_at;
        let shared = matches!(job.work, AheadWork::Shared { .. });
        let current = job.current.clone();
        match self.background.start(job) {
            Handoff::Started if shared => self.while_replaced(current, seen_at),
            Handoff::Started => current.token,
            Handoff::Running(job) => {
                if let AheadWork::Shared { lock } = &job.work {
                    self.release(lock);
                }
                current.token
            }
            Handoff::Cannot(job) => self.finish_ahead(job),
        }
    }

    /// `current`, due, is being replaced: served, and for a moment more
    /// from this process's cache (memcached is asked for its replacement
    /// at most every `LOOK_AGAIN_WHILE_REPLACED` seconds meanwhile).
    fn while_replaced(&self, current: Entry, now: f64) -> String {
        if self.policy.local_cache_ttl > 0 {
            self.local.being_replaced(&current, now, now + LOOK_AGAIN_WHILE_REPLACED);
        }
        current.token
    }

    /// Replaces a due token as `job` says, wherever it runs: under the lock
    /// the lookup won (a token published meanwhile is taken instead; a
    /// failure leaves a marker that spaces the retries), or without
    /// memcached (a failure spaces this process's retries). The token to
    /// serve: the new one, or the current one if WeChat failed. Nothing is
    /// thrown: the current token is still valid.
    pub fn finish_ahead(&self, job: AheadJob) -> String {
        let AheadJob { work, current, seen_at } = job;
        match work {
            AheadWork::Shared { lock } => {
                // Replaced meanwhile, or not due after all (a record
                // memcached could not show a moment ago).
                let replaced = |e: &Entry| e.token != current.token || seen_at < e.refresh_at;
                if let Some(token) = self.published_meanwhile(&lock, replaced) {
                    return token;
                }
                match self.fetch_and_publish(&lock, None, Some(&current.token)) {
                    Ok(entry) => entry.token,
                    Err(error) => {
                        let spacing = retry_spacing(current.expires_at - self.clock.now());
                        self.record_failure(Failure::Ahead, &error, spacing);
                        current.token
                    }
                }
            }
            AheadWork::Degraded => {
                let now = self.clock.now();
                match self.hold_degraded(now, None) {
                    Ok(token) => token,
                    Err(_) => {
                        self.local.state().retry_after = now + f64::from(retry_spacing(current.expires_at - now));
                        current.token
                    }
                }
            }
        }
    }

    /// No token anywhere (or only `superseded`, which this process's own
    /// unpublished token invalidated): one process fetches, the others wait
    /// for it.
    fn cold_start(&self, superseded: Option<&str>) -> Result<String, WeixinError> {
        let mut give_up = self.clock.now() + self.policy.wait_for(self.policy.lock_hold);
        let mut pause = Duration::from_millis(10);
        let mut waited = false;
        loop {
            match self.try_lock(Purpose::Cold) {
                Ok(Lock::Acquired(lock)) => return self.as_winner(&lock, superseded),
                Ok(Lock::Failed(error)) => return Err(error),
                Ok(Lock::Held { hold, seen_for }) => {
                    give_up = give_up.max(self.clock.now() - seen_for + self.policy.wait_for(hold));
                }
                Err(error) => return self.degraded(error, self.clock.now()),
            }
            self.pause_for_winner(&mut pause, &mut waited, give_up)?;
            let now = self.clock.now();
            match self.read_shared() {
                Ok(Some(entry)) if now < entry.expires_at && Some(entry.token.as_str()) != superseded => {
                    return Ok(self.adopt(entry, now));
                }
                Ok(_) => {}
                Err(error) => return self.degraded(error, now),
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
                "gave up waiting for another process's token request (memcached key {}; \
                 that process may be stuck: see weixin.token_timeout)",
                self.keys.lock
            )));
        }
        self.clock.sleep(*pause);
        *pause = (*pause * 2).min(Duration::from_millis(100));
        Ok(())
    }

    /// The shared token. The plain key is what legacy code reads and
    /// writes, so it says which token is current; `:meta` only adds what is
    /// known of that token's life, measured by memcached (see `Entry`). A
    /// plain token that `:meta` does not describe was written by legacy
    /// code (or an older version); no plain key means no token, even if
    /// `:meta` is left (deleting the key forces a new token, as it did with
    /// the legacy class). A token this process already knows needs no
    /// `:meta` read where memcached tells its age: one round trip, as for
    /// legacy code.
    fn read_shared(&self) -> Result<Option<Entry>, StoreError> {
        let known = self.local.state().held.as_ref().map(|h| h.entry.clone());
        let sighting = self.store.read_token(self.keys, known.as_ref().map(|k| k.token.as_str()))?;
        let Some(sighting) = sighting.filter(|s| is_token(&s.token)) else {
            return Ok(None);
        };
        Ok(Some(Entry::sighted(sighting, known, self.clock.now(), self.policy.refresh_margin)))
    }

    /// memcached answers again after this process got a token without it.
    /// A degraded (stable) token invalidated nothing, so a valid shared
    /// token wins. An unpublished plain token invalidated the shared token
    /// of its time: it is the newer one while memcached still holds that
    /// token (returned as superseded) or nothing. When memcached holds no
    /// usable token, the cold start's winner publishes this process's token
    /// through the lock instead of fetching.
    fn after_outage(&self, shared: Option<Entry>, now: f64) -> (Option<Entry>, Option<String>) {
        let origin = match self.local.state().held.as_ref() {
            Some(held) if held.origin != Origin::Shared => held.origin.clone(),
            _ => return (shared, None),
        };
        let valid = shared.filter(|e| now < e.expires_at);
        match (origin, valid) {
            (Origin::Unpublished { replaced }, Some(entry)) if replaced.as_deref() == Some(entry.token.as_str()) => {
                (None, replaced)
            }
            (_, valid) => (valid, None),
        }
    }

    /// The token this process last had, if it is still served.
    fn still_held(&self, now: f64) -> Option<String> {
        self.local.held().filter(|h| now < h.entry.expires_at).map(|h| h.entry.token)
    }

    /// Takes a shared token as this process's: kept in the local cache
    /// unless nothing is known of its life (a legacy token with no expiry).
    fn adopt(&self, entry: Entry, now: f64) -> String {
        if entry.expires_at.is_finite() {
            self.local.put(entry.clone(), now, Origin::Shared);
        }
        entry.token
    }

    /// The lock's winner when no usable token exists (cold start, or a
    /// reported bad token): shares a token published meanwhile, or one this
    /// process got while memcached was away, or fetches one; a failure is
    /// left in the lock for the others for a short back-off.
    fn as_winner(&self, lock: &str, bad: Option<&str>) -> Result<String, WeixinError> {
        if let Some(token) = self.published_meanwhile(lock, |e| Some(e.token.as_str()) != bad) {
            return Ok(token);
        }
        let now = self.clock.now();
        let pending = self
            .local
            .held()
            .filter(|h| h.origin != Origin::Shared && now < h.entry.expires_at && Some(h.entry.token.as_str()) != bad);
        if let Some(held) = pending {
            let shared = self.publish(&held.entry, now);
            self.release(lock);
            match shared {
                Ok(()) => self.local.put(held.entry.clone(), now, Origin::Shared),
                Err(error) => (self.warn)(&error),
            }
            return Ok(held.entry.token);
        }
        self.fetch_and_publish(lock, bad, bad).map(|e| e.token).inspect_err(|error| {
            self.record_failure(Failure::Cold, error, COLD_FAILURE_BACKOFF);
        })
    }

    /// Just after winning the lock: a token that another process published
    /// between this process's look and its lock, if `wanted` accepts it. The
    /// lock is given back then; fetching again would only invalidate it.
    fn published_meanwhile(&self, lock: &str, wanted: impl Fn(&Entry) -> bool) -> Option<String> {
        let now = self.clock.now();
        let entry = self.read_shared().ok().flatten().filter(|e| now < e.expires_at && wanted(e))?;
        self.release(lock);
        Some(self.adopt(entry, now))
    }

    fn try_lock(&self, purpose: Purpose) -> Result<Lock, StoreError> {
        if let Some(current) = self.store.get(&self.keys.lock)? {
            return self.judge(current, purpose);
        }
        let mine = lock::fetching(self.policy.lock_hold, &lock::unique_id());
        match self.store.add(&self.keys.lock, &mine, self.policy.lock_hold) {
            Ok(true) => Ok(Lock::Acquired(mine)),
            Ok(false) => self.read_back(&mine, purpose),
            Err(error) if error.fault == StoreFault::Ambiguous => self.read_back(&mine, purpose),
            Err(error) => Err(error),
        }
    }

    /// The lock as it is now, after a command that may have stored `mine`
    /// (a lost reply is never answered by sending the command again): this
    /// process's own value means it holds the lock.
    fn read_back(&self, mine: &str, purpose: Purpose) -> Result<Lock, StoreError> {
        match self.store.get(&self.keys.lock)? {
            Some(current) if current == mine => Ok(Lock::Acquired(current)),
            Some(current) => self.judge(current, purpose),
            // Gone meanwhile: the caller looks again.
            None => Ok(Lock::Held { hold: 0, seen_for: 0.0 }),
        }
    }

    /// What a lock value means to this process. A value unchanged past its
    /// own declared hold (and a second for memcached's coarse clock) belongs
    /// to a holder that is gone, whatever TTL it was stored with: it is
    /// taken over. A failure marker counts only for processes with its
    /// fingerprint; a marker left by a failed refresh-ahead only spaces out
    /// refreshes-ahead, and anyone who has no valid token may try once.
    fn judge(&self, current: String, purpose: Purpose) -> Result<Lock, StoreError> {
        let seen_for = self.local.lock_seen_for(&current, self.clock.now());
        let (hold, take_over) = match lock::parse(&current) {
            LockValue::Failed { kind, hold, fingerprint, error } if fingerprint == self.fingerprint() => {
                match (kind, purpose) {
                    (_, Purpose::Ahead) => (hold, false),
                    (Failure::Ahead, _) => (hold, true),
                    (Failure::Cold, _) if seen_for <= f64::from(hold) + 1.0 => return Ok(Lock::Failed(error)),
                    (Failure::Cold, _) => (hold, false),
                }
            }
            LockValue::Failed { hold, .. } | LockValue::Fetching { hold } => (hold, false),
            LockValue::Foreign => (self.policy.lock_hold, false),
        };
        if take_over || seen_for > f64::from(hold) + 1.0 {
            return self.take_over(&current, purpose);
        }
        Ok(Lock::Held { hold, seen_for })
    }

    /// Replaces `stale` with this process's lock, only if it is still there.
    fn take_over(&self, stale: &str, purpose: Purpose) -> Result<Lock, StoreError> {
        let mine = lock::fetching(self.policy.lock_hold, &lock::unique_id());
        match self.store.replace_if(&self.keys.lock, stale, &mine, self.policy.lock_hold) {
            Ok(true) => Ok(Lock::Acquired(mine)),
            // Someone changed it first: the caller looks again.
            Ok(false) => Ok(Lock::Held { hold: self.policy.lock_hold, seen_for: 0.0 }),
            Err(error) if error.fault == StoreFault::Ambiguous => self.read_back(&mine, purpose),
            Err(error) => Err(error),
        }
    }

    fn release(&self, lock: &str) {
        let _ = self.store.delete_if(&self.keys.lock, lock);
    }

    /// Fetches a new token (see `fetch_new`), shares it, releases the lock.
    /// `replaced`: the shared token it supersedes, remembered if it cannot
    /// be published.
    fn fetch_and_publish(&self, lock: &str, bad: Option<&str>, replaced: Option<&str>) -> Result<Entry, WeixinError> {
        let entry = self.fetch_new(bad)?;
        let now = self.clock.now();
        let shared = self.publish(&entry, now);
        let origin = match shared {
            Ok(()) => {
                self.release(lock);
                Origin::Shared
            }
            Err(error) => {
                // memcached took part of it (a proxy whose backend for one
                // key is down): the next refresh ahead waits a while, not
                // the moment the lock is free, or each winner would fetch
                // (and invalidate) again. Memcached gone: nothing stays.
                let spacing = retry_spacing(entry.expires_at - now);
                if !self.record_failure(Failure::Ahead, &error, spacing) {
                    self.release(lock);
                }
                (self.warn)(&error);
                if self.policy.stable {
                    Origin::Degraded
                } else {
                    Origin::Unpublished { replaced: replaced.map(str::to_string) }
                }
            }
        };
        self.local.put(entry.clone(), now, origin);
        Ok(entry)
    }

    /// A new token from WeChat. With `bad`, a stable token that comes back
    /// unchanged is forced (the only place that spends the daily force
    /// quota).
    fn fetch_new(&self, bad: Option<&str>) -> Result<Entry, WeixinError> {
        let kind = if self.policy.stable { TokenKind::Stable { force: false } } else { TokenKind::Plain };
        let mut fetched = self.fetch(kind)?;
        if self.policy.stable && bad == Some(fetched.token.as_str()) {
            fetched = self.fetch(TokenKind::Stable { force: true })?;
        }
        Ok(Entry::fresh(fetched, self.clock.now(), self.policy.refresh_margin))
    }

    fn fetch(&self, kind: TokenKind) -> Result<FetchedToken, WeixinError> {
        stats::UPSTREAM_CALLS.fetch_add(1, Ordering::Relaxed);
        self.upstream.fetch(self.appid, self.secret, kind).inspect_err(|_| {
            stats::UPSTREAM_ERRORS.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// Writes the token for both kinds of readers: `:meta`, kept until the
    /// token is due (none for a token already due: its absence says so),
    /// then the plain key (legacy code, and the one that says which token
    /// is current). A token is never in the plain key without its record
    /// (to classic readers, that is due); a reader between the two sees the
    /// old token with a record that is not its own, while the lock is held.
    fn publish(&self, entry: &Entry, now: f64) -> Result<(), WeixinError> {
        let ttl = entry.memcached_ttl(now);
        if now < entry.refresh_at {
            self.store.set(&self.keys.meta, &entry.encode(now, ttl), entry.record_ttl(now, ttl))?;
        }
        self.store.set(&self.keys.token, &entry.token, ttl)?;
        Ok(())
    }

    /// Leaves `error` in the lock for `seconds`: until then nobody with this
    /// process's credentials and upstream calls WeChat for this key.
    /// Whether memcached took the marker.
    fn record_failure(&self, kind: Failure, error: &WeixinError, seconds: u32) -> bool {
        let marker = lock::failed(kind, seconds, &self.fingerprint(), &lock::unique_id(), error);
        self.store.set(&self.keys.lock, &marker, seconds).is_ok()
    }

    fn fingerprint(&self) -> String {
        lock::fingerprint(self.appid, self.secret.expose(), self.upstream_id)
    }

    /// memcached is unreachable or stores nothing: this process coordinates
    /// with nobody. It serves what it holds (a due one is replaced off this
    /// lookup's path) and, when it holds nothing usable, asks WeChat for the
    /// stable token, which every process gets alike and which invalidates
    /// no other token.
    fn degraded(&self, error: StoreError, now: f64) -> Result<String, WeixinError> {
        (self.warn)(&error.into());
        if let Some(held) = self.local.held().filter(|h| now < h.entry.expires_at) {
            let retry_after = self.local.state().retry_after;
            if now < held.entry.refresh_at || now < retry_after || self.background.running() {
                stats::LOCAL_HITS.fetch_add(1, Ordering::Relaxed);
                return Ok(held.entry.token);
            }
            // Due: replaced off this lookup's path, served meanwhile.
            return Ok(self.hand_off(AheadJob { work: AheadWork::Degraded, current: held.entry, seen_at: now }));
        }
        self.hold_degraded(now, None)
    }

    /// `refresh` without memcached: a held token other than the bad one,
    /// or the stable token WeChat gives now (the same one, if WeChat still
    /// takes it as current), never forced: forcing would invalidate every
    /// other process's token, and nothing coordinates them now.
    fn refresh_degraded(&self, error: StoreError, bad: &str) -> Result<String, WeixinError> {
        (self.warn)(&error.into());
        let now = self.clock.now();
        if let Some(held) = self.local.held().filter(|h| h.entry.token != bad && now < h.entry.expires_at) {
            return Ok(held.entry.token);
        }
        self.hold_degraded(now, Some(bad))
    }

    /// `fetch_degraded`'s token, held by this process from now on.
    fn hold_degraded(&self, now: f64, bad: Option<&str>) -> Result<String, WeixinError> {
        let entry = self.fetch_degraded(now, bad)?;
        self.local.put(entry.clone(), now, Origin::Degraded);
        Ok(entry.token)
    }

    /// The stable token, not forced, within this process's own budget of
    /// upstream calls without memcached. WeChat gives the same stable token
    /// until it dies, with the life it has left: in its last seconds a new
    /// one is had only once it is dead, so this process waits for that
    /// (seconds, once per token life) rather than serve a dead token or ask
    /// again for the same one.
    /// `bad`: a token an API refused, not to be taken from the machine.
    fn fetch_degraded(&self, now: f64, bad: Option<&str>) -> Result<Entry, WeixinError> {
        if let Some(entry) = self.await_sibling_fetch().or_else(|| self.machines_token(bad)) {
            return Ok(entry);
        }
        // One process of this machine asks; the others wait for its token
        // (at most one request long, then ask themselves).
        // Its request can take two waits for a dying token and two fetches.
        let wait = self.policy.token_timeout * 2 + Duration::from_secs(2 * (STABLE_END_GUARD as u64 + 2));
        let _flight = self.machine.and_then(|machine| machine.lock(wait));
        if let Some(entry) = self.machines_token(bad) {
            return Ok(entry);
        }
        let entry = self.fetch_degraded_here(now)?;
        if let Some(machine) = self.machine {
            machine.write(&entry.token, entry.dies_at - self.clock.now());
        }
        Ok(entry)
    }

    /// A stable token another process of this machine got, unless it is in
    /// its last seconds or is `bad`.
    fn machines_token(&self, bad: Option<&str>) -> Option<Entry> {
        let (token, left) = self.machine?.read().filter(|(token, _)| Some(token.as_str()) != bad)?;
        let now = self.clock.now();
        let entry = Entry::stable(FetchedToken { token, expires_in: left as u64 }, now, self.policy.refresh_margin);
        (!entry.at_its_end(now)).then_some(entry)
    }

    /// `fetch_degraded` by this process itself.
    fn fetch_degraded_here(&self, now: f64) -> Result<Entry, WeixinError> {
        let held = self.local.held().filter(|h| h.origin == Origin::Degraded).map(|h| h.entry);
        if let Some(dying) = held.filter(|e| e.dies_at - now <= STABLE_END_GUARD + 1.0) {
            self.outlive(&dying);
        }
        let entry = self.fetch_stable()?;
        if !entry.at_its_end(self.clock.now()) {
            return Ok(entry);
        }
        // Only seconds left of what WeChat gave: the next one comes once
        // this one is dead.
        self.outlive(&entry);
        self.fetch_stable()
    }

    /// Sleeps until `entry`'s token is surely dead (WeChat counts whole
    /// seconds), if it is not yet.
    fn outlive(&self, entry: &Entry) {
        let left = entry.dies_at + 1.0 - self.clock.now();
        if left > 0.0 {
            self.clock.sleep(Duration::from_secs_f64(left));
        }
    }

    /// One non-forced stable token request, within the budget.
    fn fetch_stable(&self) -> Result<Entry, WeixinError> {
        if !self.local.allow_degraded_call(self.clock.now(), DEGRADED_CALLS_PER_MINUTE, 60.0) {
            return Err(WeixinError::local(format!(
                "token requests throttled: memcached is unreachable or full for key {}, and this process \
                 already made {DEGRADED_CALLS_PER_MINUTE} token requests without it in the last minute \
                 (check weixin.memcache_servers)",
                self.keys.token
            )));
        }
        let fetched = {
            let _in_flight = DegradedFetch::start(self.local);
            self.fetch(TokenKind::Stable { force: false })?
        };
        Ok(Entry::stable(fetched, self.clock.now(), self.policy.refresh_margin))
    }

    /// Threads of one process (ZTS) share its slot: while one of them asks
    /// WeChat without memcached, the others wait for its token (at most one
    /// token request long) instead of spending the process's budget.
    /// `None`: nobody was asking, or the request brought no token.
    fn await_sibling_fetch(&self) -> Option<Entry> {
        let give_up = self.clock.now() + self.policy.token_timeout.as_secs_f64() + 1.0;
        let mut pause = Duration::from_millis(10);
        let mut waited = false;
        loop {
            let now = self.clock.now();
            let (busy, fresh) = {
                let state = self.local.state();
                let fresh = state.held.as_ref().filter(|h| now < h.entry.refresh_at).map(|h| h.entry.clone());
                (state.degraded_in_flight > 0, fresh)
            };
            if waited && fresh.is_some() {
                return fresh;
            }
            if !busy || now > give_up {
                return None;
            }
            waited = true;
            self.clock.sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// Counts a token request made without memcached while it runs.
struct DegradedFetch<'a>(&'a LocalSlot);

impl<'a> DegradedFetch<'a> {
    fn start(slot: &'a LocalSlot) -> DegradedFetch<'a> {
        slot.state().degraded_in_flight += 1;
        DegradedFetch(slot)
    }
}

impl Drop for DegradedFetch<'_> {
    fn drop(&mut self) {
        self.0.state().degraded_in_flight -= 1;
    }
}

/// Seconds between retries of a failing refresh while the token still
/// lives: a tenth of what is left, between 5 seconds and a minute.
fn retry_spacing(seconds_left: f64) -> u32 {
    (seconds_left / 10.0).clamp(5.0, 60.0) as u32
}
