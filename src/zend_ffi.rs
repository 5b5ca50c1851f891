//! Zend engine functions that ext-php-rs does not bind, through the small C
//! shim `src/zend_shim.c` that build.rs compiles against the installed PHP
//! headers: the signatures declared here are the shim's own, which do not
//! change between PHP releases; the C compiler checks the engine's.

use std::os::raw::c_char;

use ext_php_rs::ffi::{zend_class_entry, zend_function, zend_string, zval, HashTable};
use ext_php_rs::zend::{ClassEntry, ExecuteData};

extern "C" {
    fn weixin_shim_ini_entry(name: *const c_char, name_length: usize, original: bool) -> *mut zend_string;
    fn weixin_shim_ini_hide(
        name: *const c_char,
        name_length: usize,
        mask: *mut zend_string,
        config: bool,
    ) -> *mut zend_string;
    fn weixin_shim_ini_unhide(
        name: *const c_char,
        name_length: usize,
        mask: *mut zend_string,
        hidden: *mut zend_string,
    );
    fn weixin_shim_resolve_path(
        path: *const c_char,
        path_length: usize,
        resolved: *mut c_char,
        resolved_size: usize,
    ) -> i32;
    fn weixin_shim_open_basedir() -> *const c_char;
    fn weixin_shim_max_path() -> usize;
    fn weixin_shim_get_constant(name: *const c_char, name_length: usize) -> *mut zval;
    fn weixin_shim_proptable_to_symtable(properties: *mut HashTable, always_duplicate: bool) -> *mut HashTable;
    fn weixin_shim_add_parameter_attribute(function: *mut zend_function, offset: u32, name: *mut zend_string);
    fn weixin_shim_type_mask() -> u32;
    fn weixin_shim_find_class(lowercase_name: *const c_char, name_length: usize) -> *mut zend_class_entry;
    fn weixin_shim_rekey_class(class: *mut zend_class_entry, from: *mut zend_string, to: *mut zend_string) -> bool;
    fn weixin_shim_swap_autoload(hook: Option<Autoload>) -> Option<Autoload>;
    fn weixin_shim_allow_dynamic_properties(class: *mut zend_class_entry);
    fn weixin_shim_exception_pending() -> bool;
    fn weixin_shim_clear_exception();
    fn weixin_shim_parse_constructor(execute_data: *mut ExecuteData) -> bool;
    fn weixin_shim_parse_get_ticket(execute_data: *mut ExecuteData) -> bool;
    fn weixin_shim_parse_jssdk_config(execute_data: *mut ExecuteData, debug: *mut bool) -> bool;
    fn weixin_shim_log_warning(message: *const c_char);
    fn weixin_shim_room_for_string(capacity: usize, limit: *mut i64, in_use: *mut usize) -> bool;
    fn weixin_shim_string_grow(string: *mut zend_string, capacity: usize) -> *mut zend_string;
    fn weixin_shim_string_bytes(string: *mut zend_string) -> *mut u8;
    fn weixin_shim_string_finish(string: *mut zend_string, length: usize) -> *mut zend_string;
    fn weixin_shim_string_free(string: *mut zend_string);
}

/// Whether `memory_limit` leaves room for a PHP string of `capacity` bytes
/// (as the engine takes it from the system, a margin beside a big one);
/// if not, `memory_limit` and what PHP's heap holds, for the message.
pub fn room_for_string(capacity: usize) -> Result<(), (u64, u64)> {
    let (mut limit, mut in_use) = (0i64, 0usize);
    // SAFETY: reads this PHP thread's globals and heap.
    if unsafe { weixin_shim_room_for_string(capacity, &raw mut limit, &raw mut in_use) } {
        return Ok(());
    }
    Err((u64::try_from(limit).unwrap_or(0), in_use as u64))
}

/// A PHP string of `capacity` bytes, or `string` grown to that (its bytes
/// kept); its bytes start at the second pointer.
///
/// # Safety
/// On a PHP thread; `string` is null or one this function returned and
/// nothing else holds. memory_limit must leave room for `capacity` (the
/// engine would stop the script inside this call).
pub unsafe fn string_grow(string: *mut zend_string, capacity: usize) -> (*mut zend_string, *mut u8) {
    let grown = weixin_shim_string_grow(string, capacity);
    (grown, weixin_shim_string_bytes(grown))
}

/// The string as its first `length` bytes, NUL-terminated (`""` for null).
///
/// # Safety
/// As for [`string_grow`]; `length` is at most the capacity.
pub unsafe fn string_finish(string: *mut zend_string, length: usize) -> *mut zend_string {
    weixin_shim_string_finish(string, length)
}

/// Frees a string [`string_grow`] made.
///
/// # Safety
/// On a PHP thread; a string of [`string_grow`] that nothing else holds.
pub unsafe fn string_free(string: *mut zend_string) {
    weixin_shim_string_free(string);
}

/// Drops the exception being thrown on this PHP thread.
pub fn clear_exception() {
    // SAFETY: on a PHP thread, inside a call of the running function.
    unsafe { weixin_shim_clear_exception() }
}

/// `message` in PHP's error log as an E_WARNING of the running function,
/// without any error handler; nothing when `log_errors` is off.
pub fn log_warning(message: &str) {
    let Ok(message) = std::ffi::CString::new(message.replace('\0', "")) else { return };
    // SAFETY: on a PHP thread, inside a call of the running function.
    unsafe { weixin_shim_log_warning(message.as_ptr()) }
}

/// Whether an exception is being thrown on this PHP thread.
pub fn exception_pending() -> bool {
    // SAFETY: reads this thread's executor globals.
    unsafe { weixin_shim_exception_pending() }
}

/// The engine's class autoloader: `zend_autoload(name, lowercase name)`.
pub type Autoload = unsafe extern "C" fn(*mut zend_string, *mut zend_string) -> *mut zend_class_entry;

/// Moves `class` from the class table's key `from` to `to`, in place; only
/// when `from` holds `class` and `to` is free. Whether it moved.
///
/// # Safety
/// On a PHP thread (MINIT, or a request of this thread); both keys interned.
pub unsafe fn rekey_class(class: *mut zend_class_entry, from: *mut zend_string, to: *mut zend_string) -> bool {
    weixin_shim_rekey_class(class, from, to)
}

/// Installs `hook` as the engine's class autoloader; returns the one it replaces.
///
/// # Safety
/// MINIT or MSHUTDOWN (one thread, no request running).
pub unsafe fn swap_autoload(hook: Option<Autoload>) -> Option<Autoload> {
    weixin_shim_swap_autoload(hook)
}

/// `#[\AllowDynamicProperties]` on a class registered in MINIT.
pub fn allow_dynamic_properties(class: &mut ClassEntry) {
    // SAFETY: MINIT, a class just registered by this extension.
    unsafe { weixin_shim_allow_dynamic_properties(std::ptr::from_mut(class).cast()) }
}

/// A class registered by the engine or an extension loaded before this one,
/// by name, without autoloading; usable in MINIT, and in a request on its
/// PHP thread (then a script's class of that name too, valid for the call).
pub fn find_class(name: &str) -> Option<&'static ClassEntry> {
    let lowercase = name.to_ascii_lowercase();
    // SAFETY: MINIT, or a request on this thread: the compiler's class table
    // (the thread's own under ZTS) exists; the engine's and extensions'
    // class entries live as long as the process.
    unsafe { weixin_shim_find_class(lowercase.as_ptr().cast(), lowercase.len()).cast::<ClassEntry>().as_ref() }
}

/// The string an INI entry holds now (with `original`, the one it held
/// before this request changed it: `ini_set()`, `.user.ini`), or NULL.
///
/// # Safety
/// On a PHP thread; the string lives while the entry keeps it.
pub unsafe fn ini_entry(name: &str, original: bool) -> *mut zend_string {
    weixin_shim_ini_entry(name.as_ptr().cast(), name.len(), original)
}

/// Puts the interned `mask` in the place of an INI entry's master value
/// (with `config`, in `get_cfg_var()`'s table too); returns the string it
/// replaced, or NULL when there was nothing to hide.
///
/// # Safety
/// On a PHP thread, in MINIT (`config` only there) or RINIT; `mask` interned.
pub unsafe fn ini_hide(name: &str, mask: *mut zend_string, config: bool) -> *mut zend_string {
    weixin_shim_ini_hide(name.as_ptr().cast(), name.len(), mask, config)
}

/// MSHUTDOWN: what [`ini_hide`] replaced, back in place of `mask`.
///
/// # Safety
/// MSHUTDOWN; `hidden` a string [`ini_hide`] returned for this entry.
pub unsafe fn ini_unhide(name: &str, mask: *mut zend_string, hidden: *mut zend_string) {
    weixin_shim_ini_unhide(name.as_ptr().cast(), name.len(), mask, hidden);
}

/// Where a path a script names leads, resolved as PHP's file functions
/// resolve it (the request's working directory, virtual under ZTS).
pub enum ResolvedPath {
    Allowed(String),
    /// Outside `open_basedir` (which is given).
    OutsideOpenBasedir(String),
    /// Empty, with a NUL byte, too long, or not UTF-8 once resolved.
    NotAPath,
}

/// `path` resolved and checked against `open_basedir`, raising nothing.
pub fn resolve_path(path: &[u8]) -> ResolvedPath {
    // SAFETY: returns a constant.
    let size = unsafe { weixin_shim_max_path() };
    if path.contains(&0) {
        return ResolvedPath::NotAPath;
    }
    let terminated = [path, b"\0"].concat();
    let mut resolved = vec![0u8; size];
    // SAFETY: `terminated` is NUL-terminated with no NUL before; `resolved`
    // is `size` writable bytes, MAXPATHLEN.
    let verdict =
        unsafe { weixin_shim_resolve_path(terminated.as_ptr().cast(), path.len(), resolved.as_mut_ptr().cast(), size) };
    let end = resolved.iter().position(|&b| b == 0).unwrap_or(0);
    resolved.truncate(end);
    match (verdict, String::from_utf8(resolved)) {
        (0, Ok(resolved)) => ResolvedPath::Allowed(resolved),
        (1, _) => {
            // SAFETY: PG(open_basedir), a NUL-terminated string (or "").
            let allowed = unsafe { std::ffi::CStr::from_ptr(weixin_shim_open_basedir()) };
            ResolvedPath::OutsideOpenBasedir(allowed.to_string_lossy().into_owned())
        }
        _ => ResolvedPath::NotAPath,
    }
}

/// The value of a global constant, or NULL when it is not defined.
///
/// # Safety
/// `name` points to `name_length` readable bytes; called on a PHP thread.
pub unsafe fn zend_get_constant_str(name: *const c_char, name_length: usize) -> *mut zval {
    weixin_shim_get_constant(name, name_length)
}

/// The array `(array) $object` and `get_object_vars()` build: declared
/// properties dereferenced, unset ones skipped.
///
/// # Safety
/// `properties` is a live property table.
pub unsafe fn zend_proptable_to_symtable(properties: *mut HashTable, always_duplicate: bool) -> *mut HashTable {
    weixin_shim_proptable_to_symtable(properties, always_duplicate)
}

/// Adds the attribute `name` (taking its reference) to the parameter at
/// `offset` (0 for the first) of an internal function.
///
/// # Safety
/// `function` is a live internal function; `name` an interned or
/// persistent string.
pub unsafe fn add_parameter_attribute(function: *mut zend_function, offset: u32, name: *mut zend_string) {
    weixin_shim_add_parameter_attribute(function, offset, name);
}

/// The bits of an arg_info type mask that are the type itself (the others
/// are flags such as the send mode), as this PHP's headers define them.
pub fn type_mask() -> u32 {
    // SAFETY: returns a constant.
    unsafe { weixin_shim_type_mask() }
}

/// The declared parameters of a method, parsed as PHP parses an internal
/// function's (`zend_parse_parameters`): a `TypeError` under
/// `strict_types`, weak mode's coercions made in the call frame, which the
/// method then reads. `false` when it threw.
pub enum Parameters {
    /// `__construct(?string $appid = null, ?string $appsecret = null, mixed ...$ignored)`
    Constructor,
    /// `get_ticket(string $type = 'jsapi')`
    GetTicket,
}

pub fn parse_parameters(ex: &mut ExecuteData, which: Parameters) -> bool {
    // SAFETY: the frame of the running call of that method.
    unsafe {
        match which {
            Parameters::Constructor => weixin_shim_parse_constructor(ex),
            Parameters::GetTicket => weixin_shim_parse_get_ticket(ex),
        }
    }
}

/// `jssdk_config(string $url, array $jsApiList = [], bool $debug = false,
/// array $openTagList = [])` parsed so; `Some($debug)` (coerced), or `None`
/// when it threw.
pub fn parse_jssdk_config(ex: &mut ExecuteData) -> Option<bool> {
    let mut debug = false;
    // SAFETY: the frame of the running call of jssdk_config().
    unsafe { weixin_shim_parse_jssdk_config(ex, &raw mut debug) }.then_some(debug)
}
