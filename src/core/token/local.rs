//! Tokens this process holds, and what it remembers between lookups: a
//! slot per memcached pool and key, shared by every account that uses it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use super::entry::Entry;

/// How a held token came to this process.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// Read from memcached, or fetched and published there.
    Shared,
    /// A stable token fetched while memcached was unreachable or full: it
    /// invalidated nothing, and may be published once memcached is back.
    Degraded,
    /// A plain token fetched under the lock whose publishing failed: it
    /// invalidated `replaced` (the shared token then), so it is the newer
    /// one as long as memcached holds `replaced` or nothing.
    Unpublished { replaced: Option<String> },
}

#[derive(Clone, Debug)]
pub struct Held {
    pub entry: Entry,
    pub cached_at: f64,
    pub origin: Origin,
    /// Due, and being replaced (by a thread of this process or by another
    /// process): served until then without asking memcached again.
    pub replaced_until: f64,
}

#[derive(Default)]
pub struct SlotState {
    pub held: Option<Held>,
    /// While memcached is unreachable: no upstream retry before this time.
    pub retry_after: f64,
    /// The lock value this process last saw, and since when (its own clock):
    /// a value unchanged past its hold belongs to a holder that is gone.
    pub lock_seen: Option<(String, f64)>,
    /// When this process last asked WeChat without memcached (at most
    /// `DEGRADED_CALLS_PER_MINUTE` kept).
    pub degraded_calls: VecDeque<f64>,
    /// Token requests this process's threads are making without memcached.
    pub degraded_in_flight: u32,
    /// The last tokens this slot held, newest last (`ISSUED_KEPT` at most):
    /// the tokens this process handed out, which `http_request()` may
    /// replace when an API refuses one.
    pub issued: VecDeque<String>,
}

/// How many handed-out tokens a slot remembers.
pub const ISSUED_KEPT: usize = 8;

/// The token this process holds for one memcached pool and key.
#[derive(Default)]
pub struct LocalSlot(Mutex<SlotState>);

impl LocalSlot {
    pub fn state(&self) -> MutexGuard<'_, SlotState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn held(&self) -> Option<Held> {
        self.state().held.clone()
    }

    /// The token alone, if `fresh` accepts it: the warm path, which copies
    /// nothing else.
    pub fn token_if(&self, fresh: impl FnOnce(&Held) -> bool) -> Option<String> {
        self.state().held.as_ref().filter(|h| fresh(h)).map(|h| h.entry.token.clone())
    }

    pub fn put(&self, entry: Entry, now: f64, origin: Origin) {
        let mut state = self.state();
        if state.issued.back() != Some(&entry.token) {
            if state.issued.len() == ISSUED_KEPT {
                state.issued.pop_front();
            }
            state.issued.push_back(entry.token.clone());
        }
        state.held = Some(Held { entry, cached_at: now, origin, replaced_until: 0.0 });
        state.retry_after = 0.0;
    }

    /// `entry`, due, is being replaced: held (taken as this process's if it
    /// holds another) and served without asking memcached until `until`.
    pub fn being_replaced(&self, entry: &Entry, now: f64, until: f64) {
        let known = self.state().held.as_ref().is_some_and(|h| h.entry.token == entry.token);
        if !known {
            self.put(entry.clone(), now, Origin::Shared);
        }
        if let Some(held) = self.state().held.as_mut().filter(|h| h.entry.token == entry.token) {
            // Just seen in memcached.
            held.cached_at = now;
            held.replaced_until = until;
        }
    }

    /// Whether this slot held `token` (one of its last `ISSUED_KEPT`).
    pub fn issued(&self, token: &str) -> bool {
        self.state().issued.iter().any(|t| t == token)
    }

    /// Forgets the token (not what it remembers of locks and calls).
    pub fn clear(&self) {
        self.state().held = None;
    }

    /// For how long (seconds, on `now`'s clock) this process has seen
    /// `value` in the lock without a change.
    pub fn lock_seen_for(&self, value: &str, now: f64) -> f64 {
        let mut state = self.state();
        match &state.lock_seen {
            Some((seen, since)) if seen == value => now - since,
            _ => {
                state.lock_seen = Some((value.to_string(), now));
                0.0
            }
        }
    }

    /// Counts an upstream call made without memcached if fewer than `limit`
    /// were made in the last `window` seconds; whether it may be made.
    pub fn allow_degraded_call(&self, now: f64, limit: usize, window: f64) -> bool {
        let mut state = self.state();
        while state.degraded_calls.front().is_some_and(|&at| now - at >= window) {
            state.degraded_calls.pop_front();
        }
        if state.degraded_calls.len() >= limit {
            return false;
        }
        state.degraded_calls.push_back(now);
        true
    }
}

/// Tokens this process holds: one slot per memcached pool and key, looked
/// up once per account (not per construction).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::ports::FetchedToken;

    #[test]
    fn unused_slots_go_when_the_limit_is_reached() {
        let cache = LocalCache::new();
        let kept = cache.slot(2, "a");
        let entry = Entry::fresh(FetchedToken { token: "A".into(), expires_in: 7200 }, 0.0, 300);
        kept.put(entry, 0.0, Origin::Shared);
        drop(cache.slot(2, "b"));
        drop(cache.slot(2, "c")); // "b" is unused: dropped
        assert_eq!(cache.slot_count(), 2);
        assert!(Arc::ptr_eq(&kept, &cache.slot(2, "a")), "a slot in use stays");
        assert_eq!(cache.slot(2, "a").held().unwrap().entry.token, "A");
    }

    #[test]
    fn the_last_tokens_held_are_remembered_as_issued() {
        let slot = LocalSlot::default();
        let put = |token: &str| {
            let entry = Entry::fresh(FetchedToken { token: token.into(), expires_in: 7200 }, 0.0, 300);
            slot.put(entry, 0.0, Origin::Shared);
        };
        for i in 0..=ISSUED_KEPT {
            put(&format!("T{i}"));
            put(&format!("T{i}")); // read again: remembered once
        }
        slot.clear();
        assert!(!slot.issued("T0"), "only the last {ISSUED_KEPT}");
        assert!((1..=ISSUED_KEPT).all(|i| slot.issued(&format!("T{i}"))), "also once no longer held");
        assert!(!slot.issued("never"));
    }

    #[test]
    fn degraded_calls_are_bounded_per_window() {
        let slot = LocalSlot::default();
        assert!((0..3).all(|i| slot.allow_degraded_call(f64::from(i), 3, 60.0)));
        assert!(!slot.allow_degraded_call(10.0, 3, 60.0));
        assert!(slot.allow_degraded_call(60.0, 3, 60.0), "the first call left the window");
    }

    #[test]
    fn a_lock_value_is_timed_from_its_first_sight() {
        let slot = LocalSlot::default();
        assert_eq!(slot.lock_seen_for("a", 10.0), 0.0);
        assert_eq!(slot.lock_seen_for("a", 13.5), 3.5);
        assert_eq!(slot.lock_seen_for("b", 14.0), 0.0);
        assert_eq!(slot.lock_seen_for("a", 15.0), 0.0, "a new sight of an older value starts again");
    }
}
