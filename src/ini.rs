//! PHP glue for the `weixin.*` INI entries: registration in MINIT and reading
//! the current values. What they mean and how they parse is in `config`.

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString};
use std::os::raw::{c_int, c_void};
use std::rc::Rc;
use std::sync::OnceLock;

use ext_php_rs::ffi::{zend_ini_entry, zend_string};
use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::zend::IniEntryDef;

use crate::ini_secret;
use crate::zend_ffi::{self, ResolvedPath};
use weixin_core::config::{SetByScript, Settings, INI_ENTRIES};
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
    ini_secret::hide_at_startup();
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

/// An INI entry's string now (with `original`, the master value php.ini,
/// `-d` or the php-fpm pool gave, before this request changed it), seen
/// through the AppSecret's mask, as bytes (copied: the entry may change).
fn entry_bytes(name: &str, original: bool) -> Option<Vec<u8>> {
    // SAFETY: on the PHP thread; the string lives while the entry (or, for
    // the hidden AppSecret, this module) keeps it, at least for this call.
    let string = ini_secret::unmasked(unsafe { zend_ffi::ini_entry(name, original) });
    // SAFETY: NULL or a live zend_string, whose `len` bytes follow its header.
    unsafe { string.as_ref() }
        .map(|s| unsafe { std::slice::from_raw_parts(s.val.as_ptr().cast::<u8>(), s.len) }.to_vec())
}

/// The value of an INI entry as text, for showing (`php --ri`): not UTF-8
/// shown with replacement characters.
pub fn value(name: &str, original: bool) -> Option<String> {
    entry_bytes(name, original).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// The value of an INI entry as it is used, and whether the running script
/// set it (`ini_set()`, `.user.ini`: it differs from the master value). A
/// value that is not UTF-8 is an error naming the setting: never a silent
/// stand-in (an AppID with replacement characters is another account).
fn used_value(name: &'static str) -> Result<Option<(String, bool)>, WeixinError> {
    let Some(bytes) = entry_bytes(name, false) else { return Ok(None) };
    let set_by_script = entry_bytes(name, true).as_ref() != Some(&bytes);
    let text = String::from_utf8(bytes).map_err(|_| {
        WeixinError::config(format!(
            "{name} is not valid UTF-8{}",
            if set_by_script { " (as this script set it)" } else { " (in php.ini, -d or the php-fpm pool)" }
        ))
    })?;
    Ok(Some((text, set_by_script)))
}

thread_local! {
    /// Bumped whenever any `weixin.*` entry changes on this thread (php.ini
    /// and php-fpm's pool on the one thread there is then; `ini_set()` and
    /// the restore at request end on the request's own thread), so parsed
    /// settings are reused until then. Per thread: under ZTS each thread
    /// has its own entries, and one thread's `ini_set()` is nothing to
    /// another's settings.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

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
    GENERATION.set(GENERATION.get().wrapping_add(1));
    0 // SUCCESS
}

/// Which parse of the settings is current.
pub fn generation() -> u64 {
    GENERATION.get()
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
        script_ca_file(&settings)?;
        return Ok(settings);
    }
    weixin_core::stats::SETTINGS_READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut values = Vec::with_capacity(INI_ENTRIES.len());
    let mut set_by_script = Vec::new();
    for (name, _, _) in INI_ENTRIES {
        if let Some((value, by_script)) = used_value(name)? {
            values.push((*name, value));
            if by_script {
                set_by_script.push(*name);
            }
        }
    }
    let mut settings =
        Settings::from_lookup(|name| values.iter().find(|(n, _)| *n == name).map(|(_, value)| value.clone()))?;
    settings.generation = generation;
    settings.set_by_script = SetByScript::new(set_by_script);
    let settings = Rc::new(resolve_script_ca_file(settings)?);
    SETTINGS.set(Some((generation, Rc::clone(&settings))));
    Ok(settings)
}

/// A `weixin.ca_file` the script set is read as curl reads its
/// `CURLOPT_CAINFO`: resolved against the request's working directory, and
/// only within `open_basedir`. php.ini's is the administrator's, read as
/// given. Checked again at every use: a script may narrow `open_basedir`.
fn resolve_script_ca_file(mut settings: Settings) -> Result<Settings, WeixinError> {
    if let Some(resolved) = script_ca_file(&settings)? {
        settings.http.ca_file = Some(resolved.clone());
        settings.token_http.ca_file = Some(resolved);
    }
    Ok(settings)
}

fn script_ca_file(settings: &Settings) -> Result<Option<String>, WeixinError> {
    let Some(path) = settings.http.ca_file.as_deref().filter(|_| settings.set_by_script.contains("weixin.ca_file"))
    else {
        return Ok(None);
    };
    match zend_ffi::resolve_path(path.as_bytes()) {
        ResolvedPath::Allowed(resolved) => Ok(Some(resolved)),
        ResolvedPath::OutsideOpenBasedir(allowed) => Err(WeixinError::config(format!(
            "weixin.ca_file: '{path}' is outside open_basedir ({allowed}): a CA file set by the script \
             (ini_set(), .user.ini) is read only within open_basedir"
        ))),
        ResolvedPath::NotAPath => Err(WeixinError::config(format!("weixin.ca_file: '{path}' is not a file path"))),
    }
}
