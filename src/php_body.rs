//! `http_request()`'s `$data` as an HTTP body, as curl would send it: a
//! string as it is, an array as multipart/form-data (`CURLFile` and
//! `CURLStringFile` values upload files).

use ext_php_rs::types::{ZendObject, Zval};

use crate::zend_ffi::{resolve_path, ResolvedPath};
use weixin_core::error::WeixinError;
use weixin_core::http::{Body, FormField};

pub(crate) fn request_body(data: Option<&Zval>) -> Result<Body, WeixinError> {
    let Some(data) = data.filter(|d| d.coerce_to_bool()) else {
        return Ok(Body::None);
    };
    if let Some(fields) = data.array() {
        let mut form = Vec::with_capacity(fields.len());
        for (key, value) in fields.iter() {
            form.push(form_field(key.to_string(), value)?);
        }
        return Ok(Body::Form(form));
    }
    if let Some(bytes) = data.zend_str() {
        return Ok(Body::Raw(bytes.as_bytes().to_vec()));
    }
    data.coerce_to_string()
        .map(|s| Body::Raw(s.into_bytes()))
        .ok_or_else(|| WeixinError::local("$data must be a string or an array"))
}

fn form_field(name: String, value: &Zval) -> Result<FormField, WeixinError> {
    let value = value.dereference();
    if let Some(object) = value.object() {
        let class = object.get_class_name().unwrap_or_default();
        if is_class(object, "CURLFile") {
            let path = upload_path(&name, object)?;
            let nonempty = |p: &str| object.get_property::<String>(p).ok().filter(|s| !s.is_empty());
            return Ok(FormField::File { name, path, filename: nonempty("postname"), mime: nonempty("mime") });
        }
        if is_class(object, "CURLStringFile") {
            let data =
                object.get_property::<&Zval>("data").ok().and_then(|z| z.zend_str().map(|s| s.as_bytes().to_vec()));
            return Ok(FormField::Bytes {
                name,
                value: data.unwrap_or_default(),
                filename: object.get_property::<String>("postname").ok(),
                mime: object.get_property::<String>("mime").ok(),
            });
        }
        return value
            .coerce_to_string()
            .map(|s| FormField::Text { name: name.clone(), value: s.into_bytes() })
            .ok_or_else(|| WeixinError::local(format!("field '{name}': an object of class {class} cannot be sent")));
    }
    if let Some(bytes) = value.zend_str() {
        return Ok(FormField::Text { name, value: bytes.as_bytes().to_vec() });
    }
    match value.coerce_to_string() {
        Some(s) if !value.is_array() => Ok(FormField::Text { name, value: s.into_bytes() }),
        _ => Err(WeixinError::local(format!("field '{name}': nested arrays cannot be sent as multipart/form-data"))),
    }
}

/// A `CURLFile`'s file, as curl would open it: resolved against the
/// request's working directory, and only within `open_basedir`.
fn upload_path(field: &str, file: &ZendObject) -> Result<String, WeixinError> {
    let path = file.get_property::<&Zval>("name").ok().and_then(|z| z.zend_str()).map_or(&[][..], |s| s.as_bytes());
    let shown = String::from_utf8_lossy(path);
    match resolve_path(path) {
        ResolvedPath::Allowed(resolved) => Ok(resolved),
        ResolvedPath::OutsideOpenBasedir(allowed) => Err(WeixinError::local(format!(
            "field '{field}': the upload file '{shown}' is outside open_basedir ({allowed}); nothing was sent"
        ))),
        ResolvedPath::NotAPath => {
            Err(WeixinError::local(format!("field '{field}': the CURLFile's name '{shown}' is not a file path")))
        }
    }
}

/// Whether `object` is a `name` (a class of ext/curl). Looked up without
/// autoloading: where ext/curl is absent, no script's autoloader is run in
/// the middle of a request being built.
fn is_class(object: &ZendObject, name: &str) -> bool {
    crate::zend_ffi::find_class(name).is_some_and(|class| object.instance_of(class))
}
