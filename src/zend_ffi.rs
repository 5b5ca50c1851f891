//! Zend engine functions that ext-php-rs does not bind. Declared here, in one
//! place, with the signatures of PHP 8.2's headers; the symbols are resolved
//! from the PHP binary when the extension is loaded.

use std::os::raw::{c_char, c_int};

use ext_php_rs::ffi::{zend_string, zval, HashTable};

extern "C" {
    /// `INI_STR()`: the current value of an INI entry, or NULL.
    pub fn zend_ini_string_ex(
        name: *const c_char,
        name_length: usize,
        orig: c_int,
        exists: *mut bool,
    ) -> *mut c_char;

    /// The value of a global constant, or NULL when it is not defined.
    pub fn zend_get_constant_str(name: *const c_char, name_len: usize) -> *mut zval;

    /// The array `(array) $object` and `get_object_vars()` build: declared
    /// properties dereferenced, unset ones skipped.
    pub fn zend_proptable_to_symtable(ht: *mut HashTable, always_duplicate: bool)
        -> *mut HashTable;

    /// `zend_add_parameter_attribute()` is an inline wrapper around this.
    pub fn zend_add_attribute(
        attributes: *mut *mut HashTable,
        name: *mut zend_string,
        argc: u32,
        flags: u32,
        offset: u32,
        lineno: u32,
    ) -> *mut std::ffi::c_void;
}

/// `ZEND_ATTRIBUTE_PERSISTENT`: attributes of internal functions live in
/// persistent memory.
pub const ZEND_ATTRIBUTE_PERSISTENT: u32 = 1;
