//! PHP glue for the `weixin.*` INI entries: registration in MINIT and reading
//! the current values. What they mean and how they parse is in `config`.

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::{c_int, c_void};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use ext_php_rs::ffi::{zend_ini_entry, zend_string};
use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::zend::IniEntryDef;

use crate::zend_ffi::zend_ini_string_ex;
use weixin_core::config::{Settings, INI_ENTRIES};
use weixin_core::error::WeixinError;

/// The registered table: the engine may keep pointers into it for the life
/// of the process (PHP 8.5 does), so it lives in a static, built once.
struct Table(Vec<IniEntryDef>);

// SAFETY: built once, never changed; its pointers are to 'static strings.
unsafe impl Send for Table {}
unsafe impl Sync for Table {}

static TABLE: OnceLock<Table> = OnceLock::new();

/// Registers every entry of [`INI_ENTRIES`].
pub fn register(module_number: i32) {
    let table = TABLE.get_or_init(build_table);
    IniEntryDef::register(&table.0, module_number);
}

fn build_table() -> Table {
    let leak = |s: &str| -> &'static CStr {
        Box::leak(CString::new(s).expect("INI names and defaults hold no NUL").into_boxed_c_str())
    };
    let mut table: Vec<IniEntryDef> = INI_ENTRIES
        .iter()
        .map(|(name, default, _)| {
            let mut entry = IniEntryDef::new(leak(name), leak(default), IniEntryPermission::All);
            entry.on_modify = Some(on_modify);
            entry
        })
        .collect();
    table.push(IniEntryDef::end());
    Table(table)
}

/// The value of an INI entry: the current one, or with `original` the one
/// from php.ini / `-d` before any `ini_set()`.
pub fn value(name: &str, original: bool) -> Option<String> {
    let mut exists = false;
    // SAFETY: the name pointer and length describe a live buffer; the engine
    // returns NULL or a NUL-terminated string owned by the INI entry.
    let raw = unsafe { zend_ini_string_ex(name.as_ptr().cast(), name.len(), i32::from(original), &mut exists) };
    if !exists || raw.is_null() {
        return None;
    }
    // SAFETY: non-NULL, NUL-terminated, alive while the entry is.
    Some(unsafe { CStr::from_ptr(raw) }.to_string_lossy().into_owned())
}

/// Bumped whenever any `weixin.*` entry changes (php.ini, `ini_set()`, the
/// restore at request end), so parsed settings are reused until then.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The engine's change hook: accepts every value (they are validated when
/// read, where the error can say which setting is wrong) and marks the
/// cached settings stale.
unsafe extern "C" fn on_modify(
    _entry: *mut zend_ini_entry,
    _new_value: *mut zend_string,
    _arg1: *mut c_void,
    _arg2: *mut c_void,
    _arg3: *mut c_void,
    _stage: c_int,
) -> c_int {
    GENERATION.fetch_add(1, Ordering::Relaxed);
    0 // SUCCESS
}

/// Which parse of the settings is current.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Relaxed)
}

thread_local! {
    /// PHP runs one request per thread at a time; the engine's hook keeps
    /// this in step with INI changes.
    static SETTINGS: RefCell<Option<(u64, Rc<Settings>)>> = const { RefCell::new(None) };
}

/// The settings as this request sees them: parsed once per INI change.
pub fn current_settings() -> Result<Rc<Settings>, WeixinError> {
    let generation = generation();
    if let Some(settings) =
        SETTINGS.with_borrow(|cached| cached.as_ref().filter(|(g, _)| *g == generation).map(|(_, s)| Rc::clone(s)))
    {
        return Ok(settings);
    }
    let mut settings = Settings::from_lookup(|name| value(name, false))?;
    settings.generation = generation;
    let settings = Rc::new(settings);
    SETTINGS.set(Some((generation, Rc::clone(&settings))));
    Ok(settings)
}
