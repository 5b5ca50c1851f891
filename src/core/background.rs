//! Threads that finish the replacement of due tokens off the requests'
//! path (the token rules' `BackgroundRefresh`, wired per account in
//! `service`), and the warnings they leave for a PHP thread.
//!
//! * **One thread per replacement**, named `weixin-refresh`, started with
//!   every signal blocked (`signals`: a signal sent to the process goes to
//!   PHP's threads only). It runs plain Rust: memcached, HTTP, the token
//!   rules; never a Zend API. A panic in it is caught there.
//! * **At most one per name and process**: the name is a token's (or a
//!   ticket's) memcached pool and key, so the threads of a ZTS PHP start one
//!   replacement per key between them.
//! * **Per process**: a child of `fork()` has none of its parent's threads.
//!   It starts with an empty registry, never sees the parent's replacement
//!   as running, never waits for it; the parent's registry is left as it
//!   was in the child (a thread that did not come along is neither joined
//!   nor detached there).
//! * **At the end of the process** ([`wait_for_all`], from the module's
//!   shutdown): the threads are joined, so the library is never unloaded
//!   under one. A replacement is bounded by its own timeouts (the token
//!   request's, memcached's), so that is how long a process can wait.
//! * **Warnings** a thread has to give (memcached trouble, the daily
//!   quota's) cannot be raised there: they are kept per process
//!   ([`leave_warning`]) and taken, each once, by the next lookup of the
//!   same account on a PHP thread ([`take_warnings`]). One check of an
//!   atomic flag when there are none.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::process::{Inherited, PerProcess};
use crate::signals;

/// This process's replacements: what runs, and the threads to join.
#[derive(Default)]
struct Flights {
    running: HashSet<String>,
    threads: Vec<JoinHandle<()>>,
}

/// A child of fork() starts with none; the parent's are never touched there.
static FLIGHTS: PerProcess<Flights> = PerProcess::new(Inherited::Kept);

/// Why a job was not started.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// One of the same name runs in this process.
    Running,
    /// No thread could be started (the system's limit): the caller does the
    /// work itself.
    NoThread,
}

/// Whether a job of this name runs in this process now.
pub fn running(name: &str) -> bool {
    FLIGHTS.lock().running.contains(name)
}

/// Runs `job` on a thread of its own, unless one of the same name runs in
/// this process. The thread's signals are blocked; a panic in `job` is
/// caught there.
pub fn start(name: &str, job: impl FnOnce() + Send + 'static) -> Result<(), Refused> {
    let finished = {
        let mut flights = FLIGHTS.lock();
        if !flights.running.insert(name.to_string()) {
            return Err(Refused::Running);
        }
        let (finished, going): (Vec<_>, Vec<_>) = flights.threads.drain(..).partition(JoinHandle::is_finished);
        flights.threads = going;
        finished
    };
    // Those that ended are joined at once (they have nothing left to do).
    for thread in finished {
        let _ = thread.join();
    }
    let owned = name.to_string();
    let spawned = signals::starting_threads(|| {
        std::thread::Builder::new().name("weixin-refresh".into()).spawn(move || {
            let _ = catch_unwind(AssertUnwindSafe(job));
            FLIGHTS.lock().running.remove(&owned);
        })
    });
    match spawned {
        Ok(thread) => {
            FLIGHTS.lock().threads.push(thread);
            Ok(())
        }
        Err(_) => {
            FLIGHTS.lock().running.remove(name);
            Err(Refused::NoThread)
        }
    }
}

/// Waits for every job this process started to end (the module's
/// shutdown: the library must not go while one runs).
pub fn wait_for_all() {
    loop {
        let threads = std::mem::take(&mut FLIGHTS.lock().threads);
        if threads.is_empty() {
            return;
        }
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// Warnings left by this process's jobs, each with the account it is for;
/// a child of fork() starts without (its parent raises them).
static WARNINGS: PerProcess<Vec<(String, String)>> = PerProcess::new(Inherited::Dropped);
/// Whether `WARNINGS` may hold any: the lookups' one check.
static WARNINGS_LEFT: AtomicBool = AtomicBool::new(false);
/// Warnings kept at most until PHP threads take them.
const WARNINGS_KEPT: usize = 16;

/// Leaves `message` (already free of any secret) for the next lookup of
/// the account `scope` names on a PHP thread (not another account's: on a
/// host where one PHP serves several apps, each sees only its own); the
/// same message once.
pub fn leave_warning(scope: &str, message: String) {
    let mut warnings = WARNINGS.lock();
    if warnings.len() < WARNINGS_KEPT && !warnings.iter().any(|(s, m)| s == scope && *m == message) {
        warnings.push((scope.to_string(), message));
    }
    WARNINGS_LEFT.store(true, Ordering::Release);
}

/// Whether any job left a warning not yet taken: the lookups' one check
/// (an atomic load) before [`take_warnings`].
#[inline]
pub fn warnings_left() -> bool {
    WARNINGS_LEFT.load(Ordering::Acquire)
}

/// The warnings left for the account `scope` names since the last call,
/// each given once.
pub fn take_warnings(scope: &str) -> Vec<String> {
    let mut warnings = WARNINGS.lock();
    let (theirs, others): (Vec<_>, Vec<_>) = std::mem::take(&mut *warnings).into_iter().partition(|(s, _)| s == scope);
    WARNINGS_LEFT.store(!others.is_empty(), Ordering::Release);
    *warnings = others;
    theirs.into_iter().map(|(_, message)| message).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{mpsc, Mutex};

    /// The registry is the process's: one of these tests at a time (another's
    /// `wait_for_all` would join this one's threads).
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    #[test]
    fn a_job_runs_on_a_thread_with_signals_blocked_and_one_per_name_at_a_time() {
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let (started, has_started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let name = "pool|one-at-a-time";
        start(name, move || {
            started
                .send((std::thread::current().name().map(str::to_string), signals::process_signals_blocked()))
                .unwrap();
            released.recv().unwrap();
        })
        .unwrap();
        let (thread_name, blocked) = has_started.recv().unwrap();
        assert_eq!(thread_name.as_deref(), Some("weixin-refresh"));
        assert!(blocked, "the thread must not receive the process's signals");
        assert!(!signals::process_signals_blocked(), "the caller's mask is its own again");
        assert!(running(name));
        assert_eq!(start(name, || panic!("a second one must not start")), Err(Refused::Running));
        let (other_ran, other_done) = mpsc::channel();
        start("pool|another-key", move || other_ran.send(()).unwrap()).unwrap();
        other_done.recv().unwrap();
        release.send(()).unwrap();
        wait_for_all();
        assert!(!running(name), "ended: another may start");
        let (ran, done) = mpsc::channel();
        start(name, move || ran.send(()).unwrap()).unwrap();
        done.recv().unwrap();
        wait_for_all();
    }

    #[test]
    fn a_panic_in_a_job_is_caught_and_frees_its_name() {
        let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let name = "pool|panics";
        start(name, || panic!("in the job")).unwrap();
        wait_for_all();
        assert!(!running(name));
        let (ran, done) = mpsc::channel();
        start(name, move || ran.send(()).unwrap()).unwrap();
        done.recv().unwrap();
        wait_for_all();
    }

    #[test]
    fn warnings_are_given_once_each_to_their_account_only() {
        // Other tests of this process leave none: this one owns them.
        leave_warning("pool|a", "memcached at a failed".into());
        leave_warning("pool|a", "memcached at a failed".into());
        leave_warning("pool|b", "memcached at a failed".into());
        leave_warning("pool|a", "quota".into());
        assert!(take_warnings("pool|c").is_empty(), "another account's are not its");
        assert_eq!(take_warnings("pool|a"), ["memcached at a failed", "quota"]);
        assert!(take_warnings("pool|a").is_empty());
        assert_eq!(take_warnings("pool|b"), ["memcached at a failed"]);
        for i in 0..40 {
            leave_warning("pool|a", format!("w{i}"));
        }
        assert_eq!(take_warnings("pool|a").len(), WARNINGS_KEPT, "bounded until taken");
    }
}
