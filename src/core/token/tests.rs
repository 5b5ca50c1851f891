//! The rules against a map for memcached (with its coarse clock), a script
//! for WeChat and fake clocks: one process, several, several machines.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use super::entry::Entry;
use super::local::LocalSlot;
use super::lock;
use super::policy::LOOK_AGAIN_WHILE_REPLACED;
use super::*;
use crate::error::WeixinError;
use crate::secret::Secret;

/// Key → (value, expiry on memcached's clock).
type Values = HashMap<String, (String, f64)>;
/// (key, values, memcached's clock now)
type GetHook = Box<dyn FnMut(&str, &mut Values, f64)>;

/// memcached as a map with TTLs on its own clock; can be switched off,
/// made full, or made to lose the reply of the next `add`.
struct MapStore<'c> {
    clock: &'c FakeClock,
    values: RefCell<Values>,
    down: Cell<bool>,
    full: Cell<bool>,
    /// The next state-changing command is applied but its reply is lost.
    lose_next_reply: Cell<bool>,
    /// Speaks classic text commands: tells no key's TTL.
    untold: Cell<bool>,
    gets: Cell<u32>,
    adds: Cell<u32>,
    /// Called on each get: lets a test act as "another process".
    on_get: RefCell<Option<GetHook>>,
}

impl<'c> MapStore<'c> {
    fn new(clock: &'c FakeClock) -> Self {
        MapStore {
            clock,
            values: RefCell::default(),
            down: Cell::new(false),
            full: Cell::new(false),
            lose_next_reply: Cell::new(false),
            untold: Cell::new(false),
            gets: Cell::new(0),
            adds: Cell::new(0),
            on_get: RefCell::new(None),
        }
    }
    fn check(&self) -> Result<(), StoreError> {
        if self.down.get() {
            Err(StoreError::new(StoreFault::Unreachable, "memcached down"))
        } else {
            Ok(())
        }
    }
    fn check_write(&self) -> Result<(), StoreError> {
        self.check()?;
        if self.full.get() {
            return Err(StoreError::new(StoreFault::Full, "SERVER_ERROR out of memory storing object"));
        }
        Ok(())
    }
    /// Like memcached, whose clock ticks in whole seconds: a key may go up
    /// to a second before its TTL.
    fn put(&self, key: &str, value: &str, ttl: u32) {
        self.values.borrow_mut().insert(key.into(), (value.into(), self.clock.now().floor() + f64::from(ttl)));
    }
    fn value(&self, key: &str) -> Option<String> {
        let now = self.clock.now();
        self.values.borrow().get(key).filter(|(_, exp)| *exp > now).map(|(v, _)| v.clone())
    }
    fn reply_lost(&self) -> Result<(), StoreError> {
        if self.lose_next_reply.replace(false) {
            return Err(StoreError::new(StoreFault::Ambiguous, "reply lost"));
        }
        Ok(())
    }
}

impl SharedStore for MapStore<'_> {
    fn read_token(&self, keys: &Keys, known: Option<&str>) -> Result<Option<Sighting>, StoreError> {
        let Some(token) = self.get(&keys.token)? else { return Ok(None) };
        if self.untold.get() {
            // Classic text commands: one multi-get of the token and its
            // record, and no TTL.
            return Ok(Some(Sighting { token, record: self.value(&keys.meta), age: Age::Untold }));
        }
        let expiry = self.values.borrow()[&keys.token].1;
        // As memcached counts: whole seconds on its coarse clock.
        let left = expiry.is_finite().then(|| (expiry - self.clock.now().floor()) as u32);
        let record = if known == Some(token.as_str()) { None } else { self.get(&keys.meta)? };
        Ok(Some(Sighting { token, record, age: Age::KeptFor(left) }))
    }
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        self.gets.set(self.gets.get() + 1);
        if let Some(hook) = self.on_get.borrow_mut().as_mut() {
            hook(key, &mut self.values.borrow_mut(), self.clock.0.get());
        }
        Ok(self.value(key))
    }
    fn set(&self, key: &str, value: &str, ttl: u32) -> Result<(), StoreError> {
        self.check_write()?;
        self.put(key, value, ttl);
        Ok(())
    }
    fn add(&self, key: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
        self.check_write()?;
        self.adds.set(self.adds.get() + 1);
        if self.value(key).is_some() {
            return Ok(false);
        }
        self.put(key, value, ttl);
        self.reply_lost()?;
        Ok(true)
    }
    fn replace_if(&self, key: &str, expected: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
        self.check_write()?;
        if self.value(key).as_deref() != Some(expected) {
            return Ok(false);
        }
        self.put(key, value, ttl);
        self.reply_lost()?;
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

/// Time that moves only when told, or by `step` at each reading (as real
/// time moves between the readings around a fetch).
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

/// Another machine's clock: the same time, read `offset` seconds off.
struct SkewedClock<'c>(&'c FakeClock, f64);

impl Clock for SkewedClock<'_> {
    fn now(&self) -> f64 {
        self.0.now() + self.1
    }
    fn sleep(&self, duration: Duration) {
        self.0.sleep(duration)
    }
}

/// WeChat: numbered plain tokens, one stable token at a time, or scripted
/// failures.
#[derive(Default)]
struct Script {
    calls: Cell<u32>,
    plain: Cell<u32>,
    stable: Cell<u32>,
    forced: Cell<u32>,
    failing: Cell<bool>,
    expires_in: Cell<u64>,
    /// The current stable token (a non-forced call returns it).
    stable_current: RefCell<Option<String>>,
}

impl Upstream for Script {
    fn fetch(&self, _: &str, _: &Secret, kind: TokenKind) -> Result<FetchedToken, WeixinError> {
        self.calls.set(self.calls.get() + 1);
        let expires_in = match self.expires_in.get() {
            0 => 7200,
            e => e,
        };
        match kind {
            TokenKind::Plain => self.plain.set(self.plain.get() + 1),
            TokenKind::Stable { force } => {
                self.stable.set(self.stable.get() + 1);
                self.forced.set(self.forced.get() + u32::from(force));
            }
        }
        if self.failing.get() {
            return Err(WeixinError::wechat(-1, "system error"));
        }
        let token = match kind {
            TokenKind::Plain => format!("T{}", self.calls.get()),
            TokenKind::Stable { force } => {
                let mut current = self.stable_current.borrow_mut();
                if force || current.is_none() {
                    *current = Some(format!("S{}", self.calls.get()));
                }
                current.clone().unwrap()
            }
        };
        Ok(FetchedToken { token, expires_in })
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
        World {
            clock: FakeClock(Cell::new(1_000_000.0), Cell::new(0.0)),
            upstream: Script::default(),
            local: LocalSlot::default(),
            warnings: Cell::new(0),
        }
    }
}

fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

fn service<'a>(
    world: &'a World,
    store: &'a MapStore<'a>,
    warn: &'a dyn Fn(&WeixinError),
    stable: bool,
) -> TokenService<'a> {
    TokenService {
        store,
        upstream: &world.upstream,
        machine: None,
        // As every refresh-ahead was before: finished by the lookup itself.
        // Tests of the hand-off use `Deferred`.
        background: &Inline,
        clock: &world.clock,
        local: &world.local,
        keys: leak(Keys::new("k", stable)),
        appid: "wx",
        secret: leak(Secret::new("s")),
        upstream_id: "https://api|",
        policy: leak(Policy::new(300, 60, Duration::from_secs(5), stable)),
        warn,
    }
}

/// The same service with another refresh margin and local-cache TTL.
fn with_policy(svc: TokenService<'_>, refresh_margin: u64, local_cache_ttl: u64) -> TokenService<'_> {
    let policy = Policy::new(refresh_margin, local_cache_ttl, Duration::from_secs(5), false);
    TokenService { policy: leak(policy), ..svc }
}

/// Another process (its own local cache) of the same world.
fn other_process<'a>(svc: &TokenService<'a>) -> TokenService<'a> {
    TokenService { local: leak(LocalSlot::default()), ..*svc }
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

/// What another process's `publish` leaves in memcached: a token written
/// just now for `expires_in` seconds with a 300 s margin.
fn published_elsewhere(values: &mut Values, now: f64, token: &str) {
    let entry = Entry::fresh(FetchedToken { token: token.into(), expires_in: 7200 }, now, 300);
    let ttl = entry.memcached_ttl(now);
    let expiry = now.floor() + f64::from(ttl);
    values.insert("k".into(), (token.into(), expiry));
    values.insert("k:meta".into(), (entry.encode(now, ttl), expiry));
}

#[test]
fn cold_start_fetches_once_and_shares_for_both_kinds_of_readers() {
    setup!(world, store, svc);
    assert_eq!(svc.token().unwrap(), "T1");
    assert_eq!(store.value("k").as_deref(), Some("T1"));
    assert!(store.value("k:meta").unwrap().starts_with("v3 7141 6900.000 7140.000 7200.000 T1"));
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

#[test]
fn a_waiter_takes_the_winners_token_instead_of_fetching() {
    setup!(world, store, svc);
    store.put("k:lock", &lock::fetching(7, "elsewhere"), 7);
    // The other process publishes on the third poll.
    let polls = Cell::new(0);
    *store.on_get.borrow_mut() = Some(Box::new(move |key, values, now| {
        if key == "k" {
            polls.set(polls.get() + 1);
            if polls.get() == 3 {
                published_elsewhere(values, now, "OTHER");
            }
        }
    }));
    assert_eq!(svc.token().unwrap(), "OTHER");
    assert_eq!(world.upstream.calls.get(), 0);
}

#[test]
fn a_token_published_between_the_look_and_the_lock_is_taken_not_fetched_again() {
    setup!(world, store, svc);
    *store.on_get.borrow_mut() = Some(Box::new(move |key, values, now| {
        if key == "k:lock" && !values.contains_key("k:meta") {
            published_elsewhere(values, now, "OTHER");
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
    *store.on_get.borrow_mut() = Some(Box::new(move |key, values, now| {
        if key == "k:lock" {
            published_elsewhere(values, now, "T9");
        }
    }));
    assert_eq!(svc.token().unwrap(), "T9");
    assert_eq!(world.upstream.calls.get(), 1);
}

#[test]
fn a_dead_winners_lock_lapses_and_a_waiter_takes_over() {
    setup!(world, store, svc);
    store.put("k:lock", &lock::fetching(7, "dead-process"), 7);
    let started = world.clock.now();
    assert_eq!(svc.token().unwrap(), "T1");
    assert!(world.clock.now() - started >= 7.0 - 1.0);
    assert_eq!(world.upstream.calls.get(), 1);
}

#[test]
fn a_lock_stuck_past_its_own_deadline_is_taken_over_whatever_its_ttl() {
    for stuck in [lock::fetching(3, "stuck-host:1:1:0"), "fetching oldhost:123:1700000000000000000:0".to_string()] {
        setup!(world, store, svc);
        let svc = TokenService { policy: leak(Policy::new(300, 60, Duration::from_secs(1), false)), ..svc };
        store.put("k:lock", &stuck, 3600);
        let started = world.clock.now();
        assert_eq!(svc.token().unwrap(), "T1", "{stuck}");
        let waited = world.clock.now() - started;
        assert!((3.0..=3.0 + 1.0 + 1.0).contains(&waited), "{stuck}: waited {waited}");
        // Another process finds the token, not the lock.
        assert_eq!(other_process(&svc).token().unwrap(), "T1");
        assert_eq!(world.upstream.calls.get(), 1);
        assert_eq!(store.value("k:lock"), None);
    }
}

#[test]
fn a_stuck_lock_does_not_stop_a_refresh_ahead_forever() {
    setup!(world, store, svc);
    svc.token().unwrap();
    world.clock.advance(6900.0);
    store.put("k:lock", &lock::fetching(7, "stuck"), 3600);
    // Seen, not waited for: the current token is served.
    assert_eq!(svc.token().unwrap(), "T1");
    world.clock.advance(9.0);
    assert_eq!(svc.token().unwrap(), "T2", "taken over past its deadline");
}

#[test]
fn a_failed_cold_fetch_is_reported_to_waiters_without_more_calls() {
    setup!(world, store, svc);
    world.upstream.failing.set(true);
    assert_eq!(svc.token().unwrap_err().code, -1);
    assert_eq!(other_process(&svc).token().unwrap_err().code, -1);
    assert_eq!(world.upstream.calls.get(), 1, "the back-off held the second caller");
    assert!(store.value("k").is_none() && store.value("k:meta").is_none());
    world.clock.advance(3.0);
    svc.token().unwrap_err();
    assert_eq!(world.upstream.calls.get(), 2, "retried after the back-off");
}

#[test]
fn a_failure_marker_is_only_adopted_by_processes_it_concerns() {
    setup!(world, store, svc);
    let wrong = TokenService { secret: leak(Secret::new("wrong")), ..other_process(&svc) };
    world.upstream.failing.set(true);
    assert_eq!(wrong.token().unwrap_err().code, -1);
    world.upstream.failing.set(false);
    // The right credentials wait out the marker, then fetch their own.
    assert_eq!(svc.token().unwrap(), "T2");
    assert_eq!(world.upstream.calls.get(), 2);
    // Another upstream (API base URL, CA file) does not adopt it either.
    let elsewhere = TokenService { upstream_id: "https://proxy|", ..other_process(&svc) };
    store.values.borrow_mut().clear();
    world.local.clear();
    world.upstream.failing.set(true);
    svc.token().unwrap_err();
    world.upstream.failing.set(false);
    assert_eq!(elsewhere.token().unwrap(), "T4");
}

#[test]
fn a_due_token_is_replaced_once_while_others_keep_using_it() {
    setup!(world, store, svc);
    svc.token().unwrap();
    world.clock.advance(6900.0);
    // Someone else holds the lock: this process serves the current token, no wait.
    store.put("k:lock", &lock::fetching(7, "elsewhere"), 7);
    let before = world.clock.now();
    assert_eq!(svc.token().unwrap(), "T1");
    assert_eq!(world.clock.now(), before, "did not wait");
    store.values.borrow_mut().remove("k:lock");
    // A moment later it looks again, wins and replaces it.
    world.clock.advance(LOOK_AGAIN_WHILE_REPLACED);
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
fn refresh_never_reports_the_marker_of_a_failed_refresh_ahead() {
    setup!(world, store, svc);
    svc.token().unwrap();
    world.clock.advance(6900.0);
    world.upstream.failing.set(true);
    assert_eq!(svc.token().unwrap(), "T1", "refresh ahead failed, the token is served");
    assert!(store.value("k:lock").unwrap().starts_with("wx2 fail ahead"));
    world.upstream.failing.set(false);
    assert_eq!(svc.refresh("T1").unwrap(), "T3");
}

#[test]
fn a_short_lived_token_stays_in_memcached_while_it_is_served() {
    // expires_in 8, margin 3, no local cache; the fetch ends late in one of
    // memcached's whole seconds, and time passes while it publishes.
    setup!(world, store, svc);
    let svc = with_policy(svc, 3, 0);
    world.upstream.expires_in.set(8);
    world.clock.advance(0.9);
    world.clock.1.set(0.001);
    let fetched_at = world.clock.now();
    let first = svc.token().unwrap();
    world.upstream.failing.set(true);
    let expires_at = world.local.held().unwrap().entry.expires_at;
    while world.clock.now() < expires_at - 0.01 {
        let at = world.clock.now() - fetched_at;
        assert_eq!(svc.token().map_err(|e| format!("+{at:.2}s: {}", e.message)), Ok(first.clone()));
        // Another process serves it too while WeChat fails, counting its
        // age a second older (memcached counts whole seconds).
        if world.clock.now() < expires_at - 1.0 {
            let theirs = other_process(&svc).token().map_err(|e| format!("+{at:.2}s: {}", e.message));
            assert_eq!(theirs, Ok(first.clone()));
        }
        world.clock.advance(0.05);
    }
    while world.clock.now() < fetched_at + 10.0 {
        let at = world.clock.now() - fetched_at;
        if let Ok(token) = other_process(&svc).token() {
            assert!(at < 8.0, "+{at:.2}s: {token} served past WeChat's expiry");
        }
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
        assert_eq!(other_process(&svc).refresh("T1").unwrap(), "T2");
    }
    assert_eq!(world.upstream.calls.get(), 2);
}

#[test]
fn stable_tokens_use_their_own_keys_and_force_only_on_refresh() {
    setup!(world, store, svc, true);
    assert_eq!(svc.token().unwrap(), "S1");
    assert_eq!(store.value("k:stable").as_deref(), Some("S1"));
    assert!(store.value("k").is_none());
    world.clock.advance(6900.0);
    svc.token().unwrap(); // refresh ahead: not forced
    assert_eq!(world.upstream.forced.get(), 0);
    assert_ne!(svc.refresh("S1").unwrap(), "S1");
    assert_eq!(world.upstream.forced.get(), 1);
}

/// Two machines whose clocks are 15 minutes apart serve one token
/// stream: only live tokens, replaced about as one machine would. `untold`:
/// over classic commands, which tell no TTL.
fn clocks_15_minutes_apart(untold: bool) {
    for skew in [-900.0, 900.0] {
        setup!(world, store, svc);
        store.untold.set(untold);
        let svc = with_policy(svc, 3, 0);
        world.upstream.expires_in.set(20);
        let skewed = SkewedClock(&world.clock, skew);
        let other = TokenService { clock: &skewed, ..other_process(&svc) };
        assert_eq!(svc.token().unwrap(), "T1");
        world.clock.advance(1.0);
        assert_eq!(other.token().unwrap(), "T1", "a 1-second-old token is not replaced");
        assert_eq!(world.upstream.calls.get(), 1);
        let mut last = (String::new(), 0.0);
        for step in 0..600 {
            world.clock.advance(0.1);
            let served = if step % 2 == 0 { svc.token() } else { other.token() }.unwrap();
            let now = world.clock.0.get();
            if served != last.0 {
                last = (served.clone(), now);
            }
            // T_n was fetched at the moment it was first served; WeChat's 20 s.
            assert!(now < last.1 + 20.0, "skew {skew}: {served} served past its expiry");
        }
        // Due at 17 s of 20: 60 s make 3 or 4 replacements.
        let calls = world.upstream.calls.get();
        assert!((3..=5).contains(&calls), "skew {skew}: {calls} calls in 60 s of 20 s tokens");
    }
}

#[test]
fn clocks_that_disagree_agree_on_a_tokens_age() {
    clocks_15_minutes_apart(false);
}

#[test]
fn an_add_whose_reply_was_lost_is_read_back_not_sent_again() {
    setup!(world, store, svc);
    store.lose_next_reply.set(true);
    let started = world.clock.now();
    assert_eq!(svc.token().unwrap(), "T1");
    assert_eq!(world.clock.now(), started, "did not wait for its own lock");
    assert_eq!(store.adds.get(), 1);
    assert_eq!(world.upstream.calls.get(), 1);
}

#[test]
fn without_memcached_processes_converge_on_the_stable_token() {
    setup!(world, store, svc);
    store.down.set(true);
    let processes: Vec<_> = (0..5).map(|_| other_process(&svc)).collect();
    for process in &processes {
        assert_eq!(process.token().unwrap(), "S1");
    }
    assert_eq!((world.upstream.plain.get(), world.upstream.forced.get()), (0, 0));
    // Each serves it from its own cache afterwards.
    for _ in 0..100 {
        world.clock.advance(60.0);
        assert_eq!(processes[0].token().unwrap(), "S1");
    }
    assert_eq!(world.upstream.calls.get(), 5);
}

#[test]
fn a_full_memcached_still_gives_the_fleet_one_token() {
    setup!(world, store, svc);
    store.full.set(true);
    for _ in 0..5 {
        assert_eq!(other_process(&svc).token().unwrap(), "S1");
    }
    assert_eq!(world.upstream.plain.get(), 0);
}

#[test]
fn without_memcached_refresh_is_throttled_and_never_forces() {
    setup!(world, store, svc);
    store.down.set(true);
    let mut token = svc.token().unwrap();
    let mut refused = 0;
    for _ in 0..10 {
        match svc.refresh(&token) {
            Ok(new) => token = new,
            Err(error) => {
                assert!(error.message.contains("throttled"), "{}", error.message);
                refused += 1;
            }
        }
    }
    assert!(world.upstream.calls.get() <= 3, "{} calls in a minute", world.upstream.calls.get());
    assert_eq!(world.upstream.forced.get(), 0);
    assert!(refused >= 7);
    world.clock.advance(61.0);
    assert_eq!(svc.refresh(&token).unwrap(), "S1", "WeChat's current stable token");
    assert_eq!(world.upstream.calls.get(), 4, "a new minute, a new call");
}

#[test]
fn back_from_an_outage_a_degraded_token_is_published_only_through_the_lock_and_only_over_nothing() {
    // memcached restarted empty: the first process publishes its token.
    setup!(world, store, svc);
    store.down.set(true);
    assert_eq!(svc.token().unwrap(), "S1");
    store.down.set(false);
    store.lose_next_reply.set(false);
    assert_eq!(svc.token().unwrap(), "S1");
    assert_eq!(store.value("k").as_deref(), Some("S1"));
    assert_eq!(store.adds.get(), 1, "through the lock");
    assert_eq!(other_process(&svc).token().unwrap(), "S1");
    assert_eq!(world.upstream.calls.get(), 1);
}

#[test]
fn back_from_an_outage_a_valid_shared_token_wins_over_a_degraded_one() {
    setup!(world, store, svc);
    let other = other_process(&svc);
    assert_eq!(other.token().unwrap(), "T1");
    store.down.set(true);
    assert_eq!(svc.token().unwrap(), "S2", "cut off: the stable token");
    store.down.set(false);
    assert_eq!(svc.token().unwrap(), "T1", "T1 was never invalidated");
    assert_eq!(store.value("k").as_deref(), Some("T1"));
}

#[test]
fn an_unpublished_plain_token_replaces_the_one_it_invalidated() {
    setup!(world, store, svc);
    assert_eq!(svc.token().unwrap(), "T1");
    world.clock.advance(6900.0);
    // The refresh-ahead wins the lock and fetches; publishing then fails once.
    struct FailPublish<'a>(&'a MapStore<'a>, Cell<bool>);
    impl SharedStore for FailPublish<'_> {
        fn get(&self, k: &str) -> Result<Option<String>, StoreError> {
            self.0.get(k)
        }
        fn read_token(&self, keys: &Keys, known: Option<&str>) -> Result<Option<Sighting>, StoreError> {
            self.0.read_token(keys, known)
        }
        fn set(&self, k: &str, v: &str, t: u32) -> Result<(), StoreError> {
            if k == "k" && self.1.replace(false) {
                return Err(StoreError::new(StoreFault::Unreachable, "gone"));
            }
            self.0.set(k, v, t)
        }
        fn add(&self, k: &str, v: &str, t: u32) -> Result<bool, StoreError> {
            self.0.add(k, v, t)
        }
        fn replace_if(&self, k: &str, e: &str, v: &str, t: u32) -> Result<bool, StoreError> {
            self.0.replace_if(k, e, v, t)
        }
        fn delete_if(&self, k: &str, e: &str) -> Result<(), StoreError> {
            self.0.delete_if(k, e)
        }
    }
    let failing = FailPublish(&store, Cell::new(true));
    let svc2 = TokenService { store: &failing, ..svc };
    assert_eq!(svc2.token().unwrap(), "T2", "fetched, not published");
    assert_eq!(store.value("k").as_deref(), Some("T1"));
    // Next look: memcached still holds T1, which T2 invalidated: T2 goes in.
    assert_eq!(svc2.token().unwrap(), "T2");
    assert_eq!(store.value("k").as_deref(), Some("T2"));
    assert_eq!(world.upstream.calls.get(), 2);
}

#[test]
fn without_memcached_a_thread_waits_for_a_siblings_request_instead_of_making_its_own() {
    setup!(world, store, svc);
    store.down.set(true);
    // A sibling thread is asking: this one waits, and when nothing comes
    // within one token request's time, asks itself.
    world.local.state().degraded_in_flight = 1;
    let started = world.clock.now();
    let token = svc.token();
    let waited = world.clock.now() - started;
    assert!((5.0..=7.0).contains(&waited), "waited {waited}");
    assert_eq!(token.unwrap(), "S1");
    assert_eq!(world.upstream.calls.get(), 1);
    // Nobody asking: no wait at all.
    world.local.state().degraded_in_flight = 0;
    world.local.clear();
    let started = world.clock.now();
    svc.token().unwrap();
    assert_eq!(world.clock.now(), started);
}

// The same rules over classic text commands: memcached tells no key's TTL,
// only whether the record (kept until the token is due) is still there.

#[test]
fn classic_cold_start_fetches_once_and_others_read_it() {
    setup!(world, store, svc);
    store.untold.set(true);
    assert_eq!(svc.token().unwrap(), "T1");
    for _ in 0..20 {
        assert_eq!(other_process(&svc).token().unwrap(), "T1");
    }
    assert_eq!(world.upstream.calls.get(), 1);
}

#[test]
fn classic_a_due_token_is_replaced_once_when_its_record_is_gone_while_others_keep_using_it() {
    setup!(world, store, svc);
    store.untold.set(true);
    let svc = with_policy(svc, 300, 0);
    assert_eq!(svc.token().unwrap(), "T1");
    world.clock.advance(6898.0);
    assert_eq!(other_process(&svc).token().unwrap(), "T1", "the record is there: not due");
    assert_eq!(world.upstream.calls.get(), 1);
    world.clock.advance(3.0); // the record is gone: due
    store.put("k:lock", &lock::fetching(7, "elsewhere"), 7);
    let before = world.clock.now();
    assert_eq!(other_process(&svc).token().unwrap(), "T1", "someone else replaces it");
    assert_eq!(world.clock.now(), before, "did not wait");
    store.values.borrow_mut().remove("k:lock");
    assert_eq!(other_process(&svc).token().unwrap(), "T2", "this one replaces it");
    assert_eq!(other_process(&svc).token().unwrap(), "T2");
    assert_eq!(world.upstream.calls.get(), 2);
}

#[test]
fn classic_a_process_that_read_a_token_serves_it_unasked_only_while_it_must_still_be_served() {
    setup!(world, store, svc);
    store.untold.set(true);
    assert_eq!(svc.token().unwrap(), "T1");
    // Another process reads it just before it is due: it keeps it at most
    // 239 s (7140 - 6901) before looking again, within the local cache's TTL.
    world.clock.advance(6899.0);
    let reader =
        TokenService { policy: leak(Policy::new(300, 300, Duration::from_secs(5), false)), ..other_process(&svc) };
    assert_eq!(reader.token().unwrap(), "T1");
    let held = reader.local.held().unwrap().entry;
    assert!(held.expires_at <= world.clock.now() + 239.0, "{held:?}");
    assert!(held.expires_at < world.clock.now() + 241.0 + 1.0);
}

#[test]
fn classic_legacy_tokens_are_served_and_replaced_at_once() {
    // Nothing tells how old a legacy token is: it is due (one replacement
    // for the fleet), and served meanwhile.
    setup!(world, store, svc);
    store.untold.set(true);
    store.put("k", "LEGACY", 7200);
    store.put("k:lock", &lock::fetching(7, "elsewhere"), 7);
    assert_eq!(svc.token().unwrap(), "LEGACY");
    store.values.borrow_mut().remove("k:lock");
    world.clock.advance(LOOK_AGAIN_WHILE_REPLACED);
    assert_eq!(svc.token().unwrap(), "T1");
    assert_eq!(other_process(&svc).token().unwrap(), "T1");
    assert_eq!(world.upstream.calls.get(), 1);
}

#[test]
fn classic_clocks_that_disagree_change_nothing() {
    clocks_15_minutes_apart(true);
}

/// WeChat's non-forced stable token as documented: the same token until it
/// dies, `expires_in` being the life it has left (whole seconds); a new one
/// once it is dead.
struct StableLife<'c> {
    clock: &'c FakeClock,
    lifetime: f64,
    current: RefCell<Option<(String, f64)>>,
    calls: Cell<u32>,
}

impl Upstream for StableLife<'_> {
    fn fetch(&self, _: &str, _: &Secret, kind: TokenKind) -> Result<FetchedToken, WeixinError> {
        assert_eq!(kind, TokenKind::Stable { force: false }, "never forced, never plain without memcached");
        self.calls.set(self.calls.get() + 1);
        let now = self.clock.0.get();
        let mut current = self.current.borrow_mut();
        if current.as_ref().is_none_or(|(_, dies)| dies - now < 1.0) {
            *current = Some((format!("S{}", self.calls.get()), now + self.lifetime));
        }
        let (token, dies) = current.clone().unwrap();
        Ok(FetchedToken { token, expires_in: (dies - now).round() as u64 })
    }
}

#[test]
fn without_memcached_a_stable_tokens_end_of_life_brings_no_exception_and_no_dead_token() {
    setup!(world, store, svc);
    store.down.set(true);
    let wechat = StableLife { clock: &world.clock, lifetime: 20.0, current: RefCell::default(), calls: Cell::new(0) };
    // Two daemons, 20-s tokens due 3 s before expiry, across five lives.
    let svc = TokenService { upstream: &wechat, ..with_policy(svc, 3, 0) };
    let other = other_process(&svc);
    let (mut exceptions, mut dead) = (0, 0);
    for step in 0..1000 {
        world.clock.advance(0.1);
        match if step % 2 == 0 { svc.token() } else { other.token() } {
            Ok(token) => {
                let (current, dies) = wechat.current.borrow().clone().unwrap();
                if token != current || world.clock.0.get() >= dies {
                    dead += 1;
                }
            }
            Err(_) => exceptions += 1,
        }
    }
    assert_eq!((exceptions, dead), (0, 0));
    // Per process and life: the first request, one when due (the same
    // token, with what it has left), one after it died.
    let calls = wechat.calls.get();
    assert!(calls <= 2 * 3 * 5 + 2, "{calls} requests for 5 lives of 2 processes");
}

/// The other processes of one machine, as a map and a flag.
#[derive(Default)]
struct MachineMap {
    token: RefCell<Option<(String, f64)>>,
    clock_at_write: Cell<f64>,
}

struct MachineView<'a>(&'a MachineMap, &'a FakeClock);

impl MachineShare for MachineView<'_> {
    fn read(&self) -> Option<(String, f64)> {
        let (token, left) = self.0.token.borrow().clone()?;
        let left = left - (self.1 .0.get() - self.0.clock_at_write.get());
        (left > 0.0).then_some((token, left))
    }
    fn write(&self, token: &str, seconds_left: f64) {
        *self.0.token.borrow_mut() = Some((token.to_string(), seconds_left));
        self.0.clock_at_write.set(self.1 .0.get());
    }
    fn lock(&self, _: Duration) -> Option<Box<dyn std::any::Any>> {
        Some(Box::new(()))
    }
}

#[test]
fn without_memcached_the_processes_of_a_machine_share_one_stable_token_per_life() {
    setup!(world, store, svc);
    store.down.set(true);
    let machine = MachineMap::default();
    let view = MachineView(&machine, &world.clock);
    let wechat = StableLife { clock: &world.clock, lifetime: 20.0, current: RefCell::default(), calls: Cell::new(0) };
    let svc = TokenService { upstream: &wechat, machine: Some(&view), ..with_policy(svc, 3, 0) };
    // 30 workers of a pool recycled one after another, across three lives.
    let mut served = Vec::new();
    for _ in 0..30 {
        world.clock.advance(2.0);
        served.push(other_process(&svc).token().unwrap());
    }
    // 60 s and the waits for deaths: three or four lives.
    let lives = served.iter().collect::<std::collections::HashSet<_>>().len() as u32;
    assert!((3..=4).contains(&lives), "{served:?}");
    // Per life: the first request, and at most one more to learn its end
    // (30 requests, one per worker, without sharing).
    assert!(wechat.calls.get() <= 2 * lives, "{} requests for {lives} lives", wechat.calls.get());
}

#[test]
fn classic_a_token_seen_between_its_two_writes_is_not_replaced_again() {
    setup!(world, store, svc);
    store.untold.set(true);
    assert_eq!(svc.token().unwrap(), "T1");
    // Another process read T1 before its record was written (due, to
    // classic commands), and takes the lock once the writer let it go.
    let record = store.values.borrow_mut().remove("k:meta").unwrap();
    let reader = other_process(&svc);
    let restore = RefCell::new(Some(record));
    *store.on_get.borrow_mut() = Some(Box::new(move |key, values, _| {
        if key == "k:lock" {
            if let Some(record) = restore.borrow_mut().take() {
                values.insert("k:meta".into(), record);
            }
        }
    }));
    assert_eq!(reader.token().unwrap(), "T1");
    assert_eq!(world.upstream.calls.get(), 1, "found whole after winning the lock: not fetched again");
}

// Zero-wait rotation: a due token's replacement is handed off the lookup's
// path. `Deferred` keeps the jobs; a test finishes them when it likes, as
// the thread would, and sees what every lookup did meanwhile.

/// A `BackgroundRefresh` that keeps the jobs handed to it until `run`.
#[derive(Default)]
struct Deferred {
    jobs: RefCell<Vec<AheadJob>>,
    /// `start` finds another replacement of the key running (a sibling
    /// thread started one since this lookup's `running()`).
    raced: Cell<bool>,
}

impl BackgroundRefresh for Deferred {
    fn running(&self) -> bool {
        !self.jobs.borrow().is_empty()
    }
    fn start(&self, job: AheadJob) -> Handoff {
        if self.raced.get() {
            return Handoff::Running(job);
        }
        self.jobs.borrow_mut().push(job);
        Handoff::Started
    }
}

impl Deferred {
    /// The thread runs: every job kept is finished by `svc`; the tokens
    /// they ended with.
    fn run(&self, svc: &TokenService) -> Vec<String> {
        self.jobs.take().into_iter().map(|job| svc.finish_ahead(job)).collect()
    }
    fn kept(&self) -> usize {
        self.jobs.borrow().len()
    }
}

#[test]
fn a_due_token_is_served_at_once_and_replaced_off_the_lookups_path_under_the_lock() {
    setup!(world, store, svc);
    let background = Deferred::default();
    let svc = TokenService { background: &background, ..svc };
    assert_eq!(svc.token().unwrap(), "T1");
    assert_eq!(background.kept(), 0, "a cold start is not handed off: there is nothing to serve");
    world.clock.advance(6900.0);
    let before = world.clock.now();
    assert_eq!(svc.token().unwrap(), "T1", "the lookup that finds it due gets the current token");
    assert_eq!(world.clock.now(), before, "and did not wait");
    assert_eq!((world.upstream.calls.get(), background.kept()), (1, 1), "WeChat is asked off the path");
    assert!(store.value("k:lock").unwrap().starts_with("wx2 fetch "), "under the fleet's lock");
    // Meanwhile this process, its other threads and the other processes
    // serve the current token; none tries to replace it.
    let adds = store.adds.get();
    assert_eq!(svc.token().unwrap(), "T1");
    let other = TokenService { background: &Inline, ..other_process(&svc) };
    assert_eq!(other.token().unwrap(), "T1");
    assert_eq!((store.adds.get(), world.upstream.calls.get(), background.kept()), (adds, 1, 1));
    // The thread runs: published for everyone, the lock released, kept here.
    assert_eq!(background.run(&svc), ["T2"]);
    assert_eq!(store.value("k").as_deref(), Some("T2"));
    assert!(store.value("k:meta").unwrap().ends_with(" T2"));
    assert_eq!(store.value("k:lock"), None);
    let gets = store.gets.get();
    assert_eq!(svc.token().unwrap(), "T2");
    assert_eq!(store.gets.get(), gets, "from this process's cache");
    // The other process looks again a moment later.
    assert_eq!(other.token().unwrap(), "T1");
    world.clock.advance(LOOK_AGAIN_WHILE_REPLACED);
    assert_eq!(other.token().unwrap(), "T2");
    assert_eq!((world.upstream.calls.get(), world.warnings.get()), (2, 0));
}

#[test]
fn while_a_due_token_is_replaced_a_process_asks_memcached_for_the_new_one_only_now_and_then() {
    setup!(world, store, svc);
    let background = Deferred::default();
    let replacing = TokenService { background: &background, ..other_process(&svc) };
    let others: Vec<_> = (0..3).map(|_| TokenService { background: &Inline, ..other_process(&svc) }).collect();
    assert_eq!(replacing.token().unwrap(), "T1");
    for other in &others {
        assert_eq!(other.token().unwrap(), "T1");
    }
    world.clock.advance(6900.0);
    assert_eq!(replacing.token().unwrap(), "T1");
    for other in &others {
        assert_eq!(other.token().unwrap(), "T1", "the lock is held: served");
    }
    // For a moment: no round trip at all, in any of them.
    let gets = store.gets.get();
    for _ in 0..9 {
        world.clock.advance(LOOK_AGAIN_WHILE_REPLACED / 10.0);
        assert_eq!(replacing.token().unwrap(), "T1");
        for other in &others {
            assert_eq!(other.token().unwrap(), "T1");
        }
    }
    assert_eq!(store.gets.get(), gets);
    // Then each looks again, and takes the new token once published.
    world.clock.advance(LOOK_AGAIN_WHILE_REPLACED / 10.0 + 0.001);
    assert_eq!(others[0].token().unwrap(), "T1");
    assert!(store.gets.get() > gets);
    assert_eq!(background.run(&replacing), ["T2"]);
    for other in &others[1..] {
        assert_eq!(other.token().unwrap(), "T2");
    }
    world.clock.advance(LOOK_AGAIN_WHILE_REPLACED);
    assert_eq!(others[0].token().unwrap(), "T2");
    assert_eq!(world.upstream.calls.get(), 2);
    // Without a local cache (weixin.local_cache_ttl=0) every lookup asks.
    let asking = TokenService { background: &Inline, ..with_policy(other_process(&svc), 300, 0) };
    world.clock.advance(6900.0);
    store.put("k:lock", &lock::fetching(7, "elsewhere"), 7);
    for _ in 0..2 {
        let gets = store.gets.get();
        assert_eq!(asking.token().unwrap(), "T2");
        assert!(store.gets.get() > gets, "memcached asked");
    }
}

#[test]
fn a_failed_background_refresh_serves_the_current_token_and_leaves_a_marker_that_spaces_the_retries() {
    setup!(world, store, svc);
    let background = Deferred::default();
    let svc = TokenService { background: &background, ..svc };
    assert_eq!(svc.token().unwrap(), "T1");
    world.upstream.failing.set(true);
    world.clock.advance(6900.0);
    assert_eq!(svc.token().unwrap(), "T1");
    assert_eq!(background.run(&svc), ["T1"], "WeChat failed: the current token");
    assert!(store.value("k:lock").unwrap().starts_with("wx2 fail ahead "));
    // 240 s left: retries 24 s apart. Nobody is handed another job before.
    for _ in 0..20 {
        world.clock.advance(1.0);
        assert_eq!(svc.token().unwrap(), "T1");
        assert_eq!(other_process(&svc).token().unwrap(), "T1");
    }
    assert_eq!((background.kept(), world.upstream.calls.get()), (0, 2));
    world.clock.advance(5.0);
    assert_eq!(svc.token().unwrap(), "T1");
    assert_eq!(background.kept(), 1, "the marker lapsed: one more try");
    world.upstream.failing.set(false);
    assert_eq!(background.run(&svc), ["T3"]);
    assert_eq!(other_process(&svc).token().unwrap(), "T3");
    assert_eq!(world.warnings.get(), 0, "nobody sees anything of WeChat's failure");
}

#[test]
fn only_lookups_with_nothing_valid_to_serve_wait_for_wechat() {
    setup!(world, store, svc);
    let background = Deferred::default();
    let svc = TokenService { background: &background, ..svc };
    assert_eq!(svc.token().unwrap(), "T1", "a cold start waits");
    // Past its serving time (nobody replaced it): this lookup waits.
    world.clock.advance(7141.0);
    assert_eq!(svc.token().unwrap(), "T2");
    // An API refused the token: the caller needs the new one.
    assert_eq!(svc.refresh("T2").unwrap(), "T3");
    assert_eq!((background.kept(), world.upstream.calls.get()), (0, 3));
}

#[test]
fn a_replacement_already_running_in_this_process_keeps_the_lock_for_itself() {
    setup!(world, store, svc);
    let background = Deferred::default();
    let svc = TokenService { background: &background, ..svc };
    assert_eq!(svc.token().unwrap(), "T1");
    world.clock.advance(6900.0);
    background.raced.set(true);
    assert_eq!(svc.token().unwrap(), "T1");
    assert_eq!(store.value("k:lock"), None, "the lock won in vain is given back");
    assert_eq!(world.upstream.calls.get(), 1);
}

#[test]
fn without_a_thread_the_lookup_replaces_the_token_itself() {
    // `Inline`: what a thread finishing a job uses, and the fallback when
    // none can start (today's refresh ahead).
    setup!(world, store, svc);
    assert_eq!(svc.token().unwrap(), "T1");
    world.clock.advance(6900.0);
    assert_eq!(svc.token().unwrap(), "T2");
    assert_eq!(store.value("k:lock"), None);
}

#[test]
fn without_memcached_a_due_token_is_replaced_off_the_path_too() {
    setup!(world, store, svc);
    let background = Deferred::default();
    let wechat = StableLife { clock: &world.clock, lifetime: 7200.0, current: RefCell::default(), calls: Cell::new(0) };
    let svc = TokenService { background: &background, upstream: &wechat, ..svc };
    store.down.set(true);
    assert_eq!(svc.token().unwrap(), "S1", "nothing held: this lookup waits");
    assert_eq!(background.kept(), 0);
    // Due 300 s before its end: served at once, asked for off the path.
    world.clock.advance(6901.0);
    let before = world.clock.now();
    assert_eq!(svc.token().unwrap(), "S1");
    assert_eq!((world.clock.now(), background.kept(), wechat.calls.get()), (before, 1, 1));
    assert_eq!(svc.token().unwrap(), "S1");
    assert_eq!(background.kept(), 1, "one replacement at a time");
    // WeChat gives the same stable token, with the life it has left: held
    // until its end, not asked for again meanwhile.
    assert_eq!(background.run(&svc), ["S1"]);
    assert_eq!(wechat.calls.get(), 2);
    world.clock.advance(200.0);
    assert_eq!(svc.token().unwrap(), "S1");
    assert_eq!(background.kept(), 0);
    // Past its serving time, a lookup waits for its death and the next one.
    world.clock.advance(100.0);
    assert_eq!(svc.token().unwrap(), "S3");
}

#[test]
fn classic_a_due_token_is_replaced_off_the_path() {
    setup!(world, store, svc);
    store.untold.set(true);
    let background = Deferred::default();
    let svc = TokenService { background: &background, ..with_policy(svc, 300, 0) };
    assert_eq!(svc.token().unwrap(), "T1");
    world.clock.advance(6901.0); // the record is gone: due
    let reader = other_process(&svc);
    assert_eq!(reader.token().unwrap(), "T1");
    assert_eq!((background.kept(), world.upstream.calls.get()), (1, 1));
    assert_eq!(background.run(&reader), ["T2"]);
    assert_eq!(other_process(&svc).token().unwrap(), "T2");
    assert_eq!(world.upstream.calls.get(), 2);
}
