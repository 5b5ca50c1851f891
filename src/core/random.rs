//! Random bytes from the kernel (`getrandom`), for nonces.

use crate::error::WeixinError;

extern "C" {
    fn weixin_random_bytes(buffer: *mut u8, length: usize) -> i32;
}

/// Fills `buffer` with random bytes.
pub fn fill(buffer: &mut [u8]) -> Result<(), WeixinError> {
    // SAFETY: writes exactly `buffer.len()` bytes into `buffer`.
    if unsafe { weixin_random_bytes(buffer.as_mut_ptr(), buffer.len()) } == 0 {
        Ok(())
    } else {
        Err(WeixinError::local(format!(
            "the system's random number generator failed: {}",
            std::io::Error::last_os_error()
        )))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_draws_differ() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        super::fill(&mut a).unwrap();
        super::fill(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
