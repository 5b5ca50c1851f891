//! Reading and writing `class_weixin`'s declared properties through the
//! object's handlers (as PHP code would: subclasses, `__set` and typed
//! redeclarations are honoured), with property names interned once in MINIT
//! instead of allocated on every access.

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use ext_php_rs::ffi::zend_string;
use ext_php_rs::types::{ZendObject, ZendStr, Zval};

/// The properties the extension reads and writes.
#[derive(Clone, Copy)]
pub enum Prop {
    AppId,
    AppSecret,
    AccessToken,
}

impl Prop {
    pub const ALL: [Prop; 3] = [Prop::AppId, Prop::AppSecret, Prop::AccessToken];

    pub fn name(self) -> &'static str {
        match self {
            Prop::AppId => "appid",
            Prop::AppSecret => "appsecret",
            Prop::AccessToken => "access_token",
        }
    }
}

/// Interned, permanent names. Made anew in every MINIT: an engine that
/// shuts down and starts again (embedding SAPIs) frees its interned
/// strings while this library stays mapped.
static NAMES: [AtomicPtr<zend_string>; 3] = [const { AtomicPtr::new(ptr::null_mut()) }; 3];

/// MINIT: interns the names.
pub fn intern_names() {
    for prop in Prop::ALL {
        let name = ZendStr::new_interned(prop.name(), true).into_raw();
        NAMES[prop as usize].store(name, Ordering::Release);
    }
}

fn name_ptr(prop: Prop) -> *mut zend_string {
    let name = NAMES[prop as usize].load(Ordering::Acquire);
    assert!(!name.is_null(), "property names are interned in MINIT");
    name
}

/// The property's value, or `None` when it is unset or the object has no
/// property handlers.
pub fn read(object: &ZendObject, prop: Prop) -> Option<Zval> {
    // SAFETY: a live object with its engine handlers; `rv` receives the
    // value when the handler has to build one; the returned pointer is valid
    // until the object changes, and is copied out at once.
    unsafe {
        let read = (*object.handlers).read_property?;
        let mut rv = Zval::new();
        let value = read(
            ptr::from_ref(object).cast_mut(),
            name_ptr(prop),
            ext_php_rs::ffi::BP_VAR_IS as i32,
            ptr::null_mut(),
            &raw mut rv,
        )
        .as_ref()?;
        let copy = value.dereference().shallow_clone();
        Some(copy)
    }
}

/// Sets the property to a string.
pub fn write_string(object: &mut ZendObject, prop: Prop, value: &str) {
    let mut zval = Zval::new();
    zval.set_zend_string(ZendStr::new(value, false));
    write(object, prop, &zval);
}

/// Sets the property to `value`, sharing it (as `$this->p = $v` does).
pub fn write(object: &mut ZendObject, prop: Prop, value: &Zval) {
    // SAFETY: as in `read`; the handler takes its own reference to the
    // value and does not otherwise change it; ours stays with the caller.
    unsafe {
        if let Some(write) = (*object.handlers).write_property {
            write(object, name_ptr(prop), ptr::from_ref(value).cast_mut(), ptr::null_mut());
        }
    }
}
