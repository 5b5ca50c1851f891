//! Threads the extension starts never receive process signals: they are
//! created with every signal blocked (why, in `src/posix_shim.c`).

use std::ffi::c_void;

extern "C" {
    fn weixin_signals_block_all() -> *mut c_void;
    fn weixin_signals_restore(previous: *mut c_void);
    fn weixin_signals_process_ones_blocked() -> i32;
}

/// Runs `start`, which creates threads, with every signal blocked on this
/// thread, so that the threads it creates inherit that mask; this thread's
/// own mask is restored afterwards, also when `start` panics.
pub fn starting_threads<T>(start: impl FnOnce() -> T) -> T {
    struct Restore(*mut c_void);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: the mask weixin_signals_block_all returned, given back once.
            unsafe { weixin_signals_restore(self.0) }
        }
    }
    // SAFETY: no arguments; the result is only passed back to the shim.
    let _restore = Restore(unsafe { weixin_signals_block_all() });
    start()
}

/// Whether the signals a process is sent are blocked on the calling thread.
pub fn process_signals_blocked() -> bool {
    // SAFETY: reads the calling thread's mask.
    unsafe { weixin_signals_process_ones_blocked() == 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_started_here_has_the_signals_blocked_and_the_caller_gets_its_mask_back() {
        let before = process_signals_blocked();
        let child = starting_threads(|| std::thread::spawn(process_signals_blocked));
        assert!(child.join().unwrap(), "the new thread must not receive process signals");
        assert_eq!(process_signals_blocked(), before, "the caller's mask is restored");
        assert!(!before, "a test thread starts with the signals deliverable");
    }

    #[test]
    fn the_mask_is_restored_when_the_start_panics() {
        let outcome = std::panic::catch_unwind(|| starting_threads(|| panic!("no thread")));
        assert!(outcome.is_err());
        assert!(!process_signals_blocked());
    }
}
