//! PHP glue for the `weixin.*` INI entries: registration in MINIT and reading
//! the current values. What they mean and how they parse is in `config`.

use std::ffi::{CStr, CString};

use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::zend::IniEntryDef;

use crate::config::{Settings, INI_ENTRIES};
use crate::error::WeixinError;
use crate::zend_ffi::zend_ini_string_ex;

/// Registers every entry of [`INI_ENTRIES`]. The engine keeps the table for
/// the life of the process, so it is leaked on purpose (once per MINIT).
pub fn register(module_number: i32) {
    let leak = |s: &str| -> &'static CStr {
        Box::leak(CString::new(s).expect("INI names and defaults hold no NUL").into_boxed_c_str())
    };
    let mut table: Vec<IniEntryDef> = INI_ENTRIES
        .iter()
        .map(|(name, default, _)| IniEntryDef::new(leak(name), leak(default), IniEntryPermission::All))
        .collect();
    table.push(IniEntryDef::end());
    IniEntryDef::register(Box::leak(table.into_boxed_slice()), module_number);
}

/// The value of an INI entry: the current one, or with `original` the one
/// from php.ini / `-d` before any `ini_set()`.
pub fn value(name: &str, original: bool) -> Option<String> {
    let mut exists = false;
    // SAFETY: the name pointer and length describe a live buffer; the engine
    // returns NULL or a NUL-terminated string owned by the INI entry.
    let raw = unsafe {
        zend_ini_string_ex(name.as_ptr().cast(), name.len(), i32::from(original), &mut exists)
    };
    if !exists || raw.is_null() {
        return None;
    }
    // SAFETY: non-NULL, NUL-terminated, alive while the entry is.
    Some(unsafe { CStr::from_ptr(raw) }.to_string_lossy().into_owned())
}

/// The settings as this request sees them.
pub fn current_settings() -> Result<Settings, WeixinError> {
    Settings::from_lookup(|name| value(name, false))
}
