//! `http_request()`'s reply body, read straight into a PHP string as it
//! arrives: one copy, in PHP's memory, which `memory_get_usage()` counts and
//! `memory_limit` bounds. Before each growth the room left under
//! `memory_limit` is checked, so that the engine never stops the script
//! ("Allowed memory size exhausted", a jump across Rust frames) inside
//! this code: a reply that would not fit is refused instead, and
//! `http_request()` returns false with a warning.

use std::ptr;

use ext_php_rs::boxed::ZBox;
use ext_php_rs::ffi::zend_string;
use ext_php_rs::types::ZendStr;

use crate::zend_ffi;
use weixin_core::http::ReplySink;

/// The least a body grows by when its length is unknown (then it doubles).
const FIRST_GROWTH: usize = 64 << 10;

/// A reply body in a PHP string being filled. Lives on the PHP thread that
/// made the request, like every PHP allocation.
pub struct PhpReply {
    /// Null until the first byte (or the announced length) arrives.
    string: *mut zend_string,
    bytes: *mut u8,
    length: usize,
    capacity: usize,
    /// `weixin.max_reply_size`: never grown past it (the core refuses more).
    most: usize,
}

impl PhpReply {
    pub fn new(most: u64) -> PhpReply {
        PhpReply {
            string: ptr::null_mut(),
            bytes: ptr::null_mut(),
            length: 0,
            capacity: 0,
            most: usize::try_from(most).unwrap_or(usize::MAX),
        }
    }

    /// The body read so far.
    pub fn as_bytes(&self) -> &[u8] {
        if self.bytes.is_null() {
            return &[];
        }
        // SAFETY: the first `length` bytes of the string were written.
        unsafe { std::slice::from_raw_parts(self.bytes, self.length) }
    }

    /// The body as the PHP string to return.
    pub fn into_php_string(mut self) -> ZBox<ZendStr> {
        let string = std::mem::replace(&mut self.string, ptr::null_mut());
        // SAFETY: on the PHP thread; ours alone, `length` within it (or null: "").
        unsafe { ZBox::from_raw(zend_ffi::string_finish(string, self.length)) }
    }

    /// Grows the string to `capacity` bytes if memory_limit leaves room.
    fn grow(&mut self, capacity: usize) -> Result<(), Room> {
        zend_ffi::room_for_string(capacity).map_err(|(limit, in_use)| Room { limit, in_use })?;
        // SAFETY: on the PHP thread; the string is ours alone (or null);
        // memory_limit leaves room for it, checked just above.
        (self.string, self.bytes) = unsafe { zend_ffi::string_grow(self.string, capacity) };
        self.capacity = capacity;
        Ok(())
    }
}

/// memory_limit, and what PHP's heap holds, when a growth was refused.
struct Room {
    limit: u64,
    in_use: u64,
}

impl Room {
    fn refusal(&self, what: String) -> String {
        format!(
            "{what} would take PHP past memory_limit ({} bytes, {} in use; raise it for replies this large)",
            self.limit, self.in_use
        )
    }
}

impl ReplySink for PhpReply {
    /// The whole body at once: one block, no copy as it grows.
    fn announced(&mut self, length: u64) -> Result<(), String> {
        let length = usize::try_from(length).map_err(|_| format!("{length} bytes announced is too much"))?;
        if length == 0 {
            return Ok(());
        }
        self.grow(length).map_err(|room| room.refusal(format!("{length} bytes announced")))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let needed = self.length + bytes.len();
        if needed > self.capacity {
            // Doubling keeps the copies few; when memory_limit does not
            // leave room for that, as much as this piece needs will do.
            let doubled = (self.capacity * 2).max(FIRST_GROWTH).min(self.most).max(needed);
            let refused = match self.grow(doubled) {
                Ok(()) => None,
                Err(_) if doubled > needed => self.grow(needed).err(),
                Err(room) => Some(room),
            };
            if let Some(room) = refused {
                return Err(room.refusal(format!("{needed} bytes read so far")));
            }
        }
        // SAFETY: the string has room for `needed` bytes (grown above).
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), self.bytes.add(self.length), bytes.len()) };
        self.length = needed;
        Ok(())
    }
}

impl Drop for PhpReply {
    fn drop(&mut self) {
        if !self.string.is_null() {
            // SAFETY: on the PHP thread (a request's call), ours alone.
            unsafe { zend_ffi::string_free(self.string) };
        }
    }
}
