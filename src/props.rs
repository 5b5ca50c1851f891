//! Reading and writing `class_weixin`'s declared properties through the
//! object's handlers (as PHP code would: subclasses, `__set` and typed
//! redeclarations are honoured), with property names interned once in MINIT
//! instead of allocated on every access.

use std::ptr;
use std::sync::OnceLock;

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

/// Interned, permanent names (the engine never frees them).
struct Names([usize; 3]);

static NAMES: OnceLock<Names> = OnceLock::new();

/// MINIT: interns the names.
pub fn intern_names() {
    NAMES.get_or_init(|| {
        Names(Prop::ALL.map(|prop| ZendStr::new_interned(prop.name(), true).into_raw() as usize))
    });
}

fn name_ptr(prop: Prop) -> *mut zend_string {
    let names = NAMES.get().expect("property names are interned in MINIT");
    names.0[prop as usize] as *mut zend_string
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
