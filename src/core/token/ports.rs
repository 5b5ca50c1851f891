//! What the token rules need from the world: memcached, WeChat and a clock.
//! Adapters implement these; unit tests implement them with a map, a script
//! and a fake clock.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::keys::Keys;
use super::rules::AheadJob;
use crate::error::WeixinError;
use crate::secret::Secret;

/// Why a memcached command did not give an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreFault {
    /// No answer: refused, reset, timed out, or the server is skipped for a
    /// moment after such a failure. Nothing was stored.
    Unreachable,
    /// The server answered `SERVER_ERROR` (out of memory, too large): it is
    /// up and reads work, but it stores nothing.
    Full,
    /// A command that changes state (`add`, a compare-and-swap) was sent
    /// but its reply was lost: it may or may not have been applied. Never
    /// re-sent; the caller reads the key back.
    Ambiguous,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    pub fault: StoreFault,
    /// Names the server and what to check; never holds a secret.
    pub message: String,
}

impl StoreError {
    pub fn new(fault: StoreFault, message: impl Into<String>) -> StoreError {
        StoreError { fault, message: message.into() }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<StoreError> for WeixinError {
    fn from(error: StoreError) -> WeixinError {
        WeixinError::local(error.message)
    }
}

/// The shared token as memcached shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    /// A plain-string value (client flags 0), not yet checked to be a token.
    pub token: String,
    /// `KEY:meta`, if it was read and is there.
    pub record: Option<String>,
    pub age: Age,
}

/// What memcached says of how old the plain key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Age {
    /// The meta protocol tells how many more seconds memcached keeps the
    /// key, as memcached itself counts them (`None`: no expiry).
    KeptFor(Option<u32>),
    /// Classic text commands tell nothing: only whether the record, which
    /// memcached keeps until the token is due, is still there.
    Untold,
}

/// What the rules need from memcached. Every key of one token (the plain
/// key and its companions) lives on one server: the one the plain key maps
/// to.
pub trait SharedStore {
    /// A plain-string value (client flags 0), or `None`.
    fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// The plain token under `keys.token` and what memcached says of its
    /// life: the record under `keys.meta`, read unless the token is `known`
    /// (this process's own) and memcached tells its age, and that age.
    fn read_token(&self, keys: &Keys, known: Option<&str>) -> Result<Option<Sighting>, StoreError>;
    fn set(&self, key: &str, value: &str, ttl: u32) -> Result<(), StoreError>;
    /// Stores only if the key is absent; whether it did. A lost reply is
    /// `StoreFault::Ambiguous`, never a second `add`.
    fn add(&self, key: &str, value: &str, ttl: u32) -> Result<bool, StoreError>;
    /// Stores `value` only if the key still holds `expected` (compare and
    /// swap); whether it did. A lost reply is `StoreFault::Ambiguous`.
    fn replace_if(&self, key: &str, expected: &str, value: &str, ttl: u32) -> Result<bool, StoreError>;
    /// Deletes the key only if it still holds `expected`.
    fn delete_if(&self, key: &str, expected: &str) -> Result<(), StoreError>;
}

/// What the processes of one machine share while memcached is away, so
/// that they make one token request per token life, not one each.
pub trait MachineShare {
    /// The token one of them got, and the seconds it has left.
    fn read(&self) -> Option<(String, f64)>;
    fn write(&self, token: &str, seconds_left: f64);
    /// Makes this process the one of this machine that asks WeChat for the
    /// token, waiting up to `wait` for another that is; `None` if it could
    /// not within `wait`. Dropping the guard lets the next one in.
    fn lock(&self, wait: Duration) -> Option<Box<dyn std::any::Any>>;
}

/// Which token endpoint a fetch uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `GET /cgi-bin/token`: each call invalidates the previous token.
    Plain,
    /// `POST /cgi-bin/stable_token`: every caller gets the same token, and
    /// it invalidates nothing unless `force` (limited to 20 a day).
    Stable { force: bool },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedToken {
    pub token: String,
    pub expires_in: u64,
}

/// Where new tokens come from: WeChat in production, a script in unit tests.
pub trait Upstream {
    fn fetch(&self, appid: &str, secret: &Secret, kind: TokenKind) -> Result<FetchedToken, WeixinError>;
}

/// Where the replacement of a due token is finished once this process won
/// its lock (or, without memcached, once it chose to ask): off the caller's
/// path, on a thread of this process, so that the request that found the
/// token due is not kept waiting for WeChat. One adapter per token (or
/// ticket) key; unit tests keep the jobs and finish them when they like.
pub trait BackgroundRefresh {
    /// Whether a replacement of this key is being finished off the path in
    /// this process now: then nobody else here starts one.
    fn running(&self) -> bool;
    /// Takes `job`, which `TokenService::finish_ahead` finishes elsewhere.
    fn start(&self, job: AheadJob) -> Handoff;
}

/// What became of a job handed to a [`BackgroundRefresh`].
pub enum Handoff {
    /// It is being finished elsewhere.
    Started,
    /// Another replacement of this key runs in this process: the job is
    /// given back, to be dropped (its lock released).
    Running(AheadJob),
    /// It cannot be finished elsewhere (no thread could be started): the
    /// caller finishes it itself, as every refresh-ahead did before.
    Cannot(AheadJob),
}

/// Finishing a job right where it is handed over: the caller waits for
/// WeChat. What a thread that is itself finishing a job uses (it has
/// nobody to keep waiting), and the fallback when no thread can start.
pub struct Inline;

impl BackgroundRefresh for Inline {
    fn running(&self) -> bool {
        false
    }
    fn start(&self, job: AheadJob) -> Handoff {
        Handoff::Cannot(job)
    }
}

/// This process's clock, in seconds, and sleeping. Only durations count:
/// a time is never compared with another process's or machine's, so the
/// clock is monotonic (a wall-clock step changes nothing).
pub trait Clock {
    fn now(&self) -> f64;
    fn sleep(&self, duration: Duration);
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        static START: OnceLock<Instant> = OnceLock::new();
        // Far from zero, so that 0.0 is always long ago.
        START.get_or_init(Instant::now).elapsed().as_secs_f64() + 1_000_000.0
    }
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}
