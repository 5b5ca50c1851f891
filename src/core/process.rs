//! This process across `fork()`: state a child never inherits.
//!
//! A child of `pcntl_fork()` gets a copy of every mutex as it was at the
//! fork. In a threaded process (ZTS) another thread may have held one of
//! ours at that moment; that thread does not exist in the child, so the
//! mutex stays locked there forever. A [`PerProcess`] value is therefore
//! created afresh in each process, and what the child inherited is left
//! alone (or emptied, when nobody held it).
//!
//! Which process this is comes from a counter that the child bumps as it
//! is born (`pthread_atfork`): one atomic load on the warm path, where
//! comparing `getpid()` costs a system call.

use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

extern "C" {
    fn weixin_process_watch_forks(in_child: extern "C" fn()) -> i32;
}

static GENERATION: AtomicU64 = AtomicU64::new(0);
static WATCHING: AtomicBool = AtomicBool::new(false);

/// Runs in the child, on the forking thread, inside fork(): nothing but
/// an atomic add.
extern "C" fn forked() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Starts counting forks. Called from MINIT, while the process has one
/// thread; safe to call again (and from tests).
pub fn watch_forks() {
    // A swap, not a Once: a Once being run by another thread at a fork
    // would stay "running" in the child forever.
    if !WATCHING.swap(true, Ordering::AcqRel) {
        // SAFETY: registers a function of this library; glibc drops it
        // when the library is unloaded.
        unsafe { weixin_process_watch_forks(forked) };
    }
}

/// Which process this is: changes in the child of every fork() once
/// [`watch_forks`] was called.
pub fn generation() -> u64 {
    if !WATCHING.load(Ordering::Relaxed) {
        watch_forks();
    }
    GENERATION.load(Ordering::Acquire)
}

/// What a child does with the state it inherited when nobody held it.
#[derive(Clone, Copy)]
pub enum Inherited {
    /// Dropped (sockets: the child's copies are closed, the parent's stay).
    Dropped,
    /// Never touched: dropping it would wait for a thread of the parent
    /// that did not come along (an HTTP client's runtime).
    Kept,
}

struct Generation<T> {
    number: u64,
    state: Mutex<T>,
    /// The generation it replaced (the parent's, in a child): never freed,
    /// and kept reachable from here rather than lost.
    _parent: *mut Generation<T>,
}

/// A `T` per process, starting from `T::default()` in each.
pub struct PerProcess<T> {
    current: AtomicPtr<Generation<T>>,
    inherited: Inherited,
}

impl<T: Default> PerProcess<T> {
    pub const fn new(inherited: Inherited) -> PerProcess<T> {
        PerProcess { current: AtomicPtr::new(ptr::null_mut()), inherited }
    }

    /// This process's state (a poisoned lock is taken over: the state is
    /// kept consistent between statements).
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.state().lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This process's state if no one holds it now.
    #[cfg(test)]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.state().try_lock().ok()
    }

    fn state(&self) -> &Mutex<T> {
        let number = generation();
        loop {
            let seen = self.current.load(Ordering::Acquire);
            // SAFETY: a published generation is never freed.
            if let Some(current) = unsafe { seen.as_ref() } {
                if current.number == number {
                    return &current.state;
                }
            }
            let fresh = Box::into_raw(Box::new(Generation { number, state: Mutex::new(T::default()), _parent: seen }));
            match self.current.compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    // SAFETY: as above; `fresh` is now published, so kept.
                    if let Some(old) = unsafe { seen.as_ref() } {
                        self.leave(old);
                    }
                    return unsafe { &(*fresh).state };
                }
                // SAFETY: `fresh` was never published.
                Err(_) => drop(unsafe { Box::from_raw(fresh) }),
            }
        }
    }

    /// The parent's state, in the child. Its memory stays, linked from the
    /// child's (a reference to it may never be taken again, but freeing it
    /// is not worth proving).
    fn leave(&self, old: &Generation<T>) {
        if let Inherited::Dropped = self.inherited {
            // Held at the fork by a thread that is gone: left as it is.
            if let Ok(mut state) = old.state.try_lock() {
                drop(std::mem::take(&mut *state));
            }
        }
    }
}

#[cfg(test)]
pub(crate) fn simulate_fork() {
    forked();
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the generation is process-wide, and cargo runs tests on
    // threads of one process.
    #[test]
    fn after_a_fork_a_held_lock_is_left_behind_and_the_state_starts_afresh() {
        static STATE: PerProcess<Vec<u32>> = PerProcess::new(Inherited::Dropped);
        static KEPT: PerProcess<Vec<u32>> = PerProcess::new(Inherited::Kept);
        STATE.lock().push(1);
        assert_eq!(*STATE.lock(), [1], "the same state within a process");

        // A thread holds the lock at the fork and never lets go (in the
        // child, that thread does not exist).
        let (held, release) = (std::sync::mpsc::channel::<()>(), std::sync::mpsc::channel::<()>());
        let holder = std::thread::spawn(move || {
            let _guard = STATE.lock();
            held.0.send(()).unwrap();
            release.1.recv().unwrap();
        });
        held.1.recv().unwrap();
        let before = generation();
        simulate_fork();
        assert_eq!(generation(), before + 1);
        assert!(STATE.lock().is_empty(), "the child's state is new, not the locked one");
        STATE.lock().push(2);
        assert_eq!(*STATE.lock(), [2]);
        release.0.send(()).unwrap();
        holder.join().unwrap();

        KEPT.lock().push(7);
        simulate_fork();
        assert!(KEPT.lock().is_empty());
        assert!(STATE.lock().is_empty(), "every fork starts afresh");
    }
}
