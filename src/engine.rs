//! What the class builder cannot express, done to the registered classes
//! in MINIT through the engine (`zend_ffi`): untyped parameters, the
//! `#[\SensitiveParameter]` attribute, and keeping the argument tables the
//! engine points into.

use ext_php_rs::types::ZendStr;
use ext_php_rs::zend::ClassEntry;

use crate::zend_ffi;

/// The argument tables of registered methods: the engine points into them
/// for the life of the process, so they are kept here (reachable, not leaked).
struct ParkedArgInfo(Vec<ext_php_rs::args::ArgInfoTables>);

// SAFETY: only touched in MINIT, which runs on one thread.
unsafe impl Send for ParkedArgInfo {}

static ARG_INFO: std::sync::Mutex<ParkedArgInfo> = std::sync::Mutex::new(ParkedArgInfo(Vec::new()));

pub fn park_arg_info(tables: ext_php_rs::args::ArgInfoTables) {
    ARG_INFO.lock().unwrap_or_else(|p| p.into_inner()).0.push(tables);
}

/// Removes the declared types of a method's parameters, as in the userland
/// original (the builder can only declare `mixed`).
pub(crate) fn untype_parameters(class: &mut ClassEntry, method: &str) {
    // The type bits of a `zend_type`, as this PHP's headers define them.
    let type_bits = zend_ffi::type_mask();
    // SAFETY: MINIT, the method was just registered into the class's own
    // table. Its `arg_info` is the engine's own copy of the table (made
    // because the method had types); the engine frees that copy at shutdown
    // because the method keeps its "has type hints" flag, which is left set.
    unsafe {
        let function = ext_php_rs::ffi::zend_hash_str_find_ptr_lc(
            &raw const class.function_table,
            method.as_ptr().cast(),
            method.len(),
        )
        .cast::<ext_php_rs::ffi::zend_function>();
        let Some(function) = function.as_mut() else { return };
        let common = &mut function.common;
        for i in 0..common.num_args as usize {
            (*common.arg_info.add(i)).type_.type_mask &= !type_bits;
        }
    }
}

/// `#[\SensitiveParameter]` on `__construct`'s `$appsecret`, so that traces
/// show `Object(SensitiveParameterValue)` instead of the secret.
pub(crate) fn mark_secret_parameter(class: &mut ClassEntry) {
    let constructor = class.constructor;
    if constructor.is_null() {
        return;
    }
    let name = ZendStr::new_interned("SensitiveParameter", true);
    // SAFETY: MINIT, the constructor was just registered (an internal
    // function: the shim's inline helper makes the attribute persistent).
    // Offset 1 is the second parameter.
    unsafe { zend_ffi::add_parameter_attribute(constructor, 1, name.into_raw()) };
}
