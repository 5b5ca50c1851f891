//! The extension resolves Zend symbols from the PHP binary that loads it.
//! Linux allows undefined symbols in a shared object by default; macOS must
//! be told to look them up at load time.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        println!("cargo:rustc-cdylib-link-arg=-undefined");
        println!("cargo:rustc-cdylib-link-arg=dynamic_lookup");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
