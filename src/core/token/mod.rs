//! Many processes, one token.
//!
//! Every process and machine that shares memcached agrees on one token per
//! key, and at most one of them asks WeChat for a new one at a time, under
//! every fault an operator meets:
//!
//! * **Single flight.** A process that finds no token takes a lock with
//!   memcached `add` and fetches; the others poll briefly for its token
//!   instead of fetching. The lock carries its own deadline: a lock
//!   unchanged past it (its holder died, or an older version stored it
//!   with a long TTL) is taken over with a compare-and-swap. A failed
//!   fetch leaves a marker in the lock for a short back-off, fingerprinted
//!   with the credentials and upstream, so only processes that would fail
//!   the same way report it.
//! * **Refresh ahead.** A token is due `refresh_margin` seconds before it
//!   expires. The first process to see it due takes the lock and hands the
//!   replacement to a `BackgroundRefresh` (a thread of its own): it, and
//!   everyone else, keep using the current token and never wait. A failed
//!   refresh leaves a marker that spaces out the next refreshes-ahead only.
//!   Only a lookup with nothing valid to serve waits for WeChat.
//! * **Process-local cache.** A process reuses a token for up to
//!   `local_cache_ttl` seconds without asking memcached, never past its
//!   refresh point, except while that token is being replaced: then it asks
//!   memcached for the new one at most every `LOOK_AGAIN_WHILE_REPLACED`.
//! * **memcached unreachable or full.** Nothing coordinates the fleet, so a
//!   process that holds no usable token asks for the *stable* token, which
//!   WeChat gives every caller alike and which invalidates no other token:
//!   the fleet still converges on one. Such calls are bounded per process.
//!   When memcached is back, such a token is published only by the lock's
//!   winner, and only when memcached holds no valid token.
//! * **Clocks.** Nothing written to memcached is an absolute time: a
//!   token's age is what memcached itself counts (the key's remaining TTL),
//!   so machines whose clocks disagree agree on when it is due.
//!
//! memcached holds, per key, on the one server the plain key maps to: the
//! plain token under the key itself (what legacy PHP code reads and
//! writes), what is known of its life under `key:meta`, and the lock under
//! `key:lock`. The plain key says which token is current; a token there
//! that `key:meta` does not describe (written by legacy code) lives as long
//! as memcached keeps it, and is replaced ahead like ours.
//!
//! Plain Rust over small traits (`ports`), so `cargo test` runs the rules
//! with a map for memcached, a script for WeChat and a fake clock.

mod entry;
mod keys;
mod local;
mod lock;
mod policy;
mod ports;
mod rules;
#[cfg(test)]
mod tests;

pub use entry::{is_token, refresh_delay, serve_ttl, MAX_RELATIVE_TTL, MAX_TOKEN_LEN};
pub use keys::{make_key, Keys, LONGEST_SUFFIX};
pub use local::{LocalCache, LocalSlot};
pub use policy::Policy;
pub use ports::{
    Age, BackgroundRefresh, Clock, FetchedToken, Handoff, Inline, MachineShare, SharedStore, Sighting, StoreError,
    StoreFault, SystemClock, TokenKind, Upstream,
};
pub use rules::{AheadJob, TokenService};
