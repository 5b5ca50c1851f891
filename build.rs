//! Builds `src/zend_shim.c` against the headers of the PHP the extension is
//! for (`PHP_CONFIG`, or `php-config` on the PATH, as ext-php-rs uses), so
//! that the Zend APIs it wraps are checked by the C compiler. (The POSIX
//! shim is the core crate's: `src/core/build.rs`.)
//!
//! The extension resolves Zend symbols from the PHP binary that loads it.
//! Linux allows undefined symbols in a shared object by default; macOS must
//! be told to look them up at load time.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/zend_shim.c");
    println!("cargo:rerun-if-env-changed=PHP_CONFIG");
    println!("cargo:rerun-if-env-changed=CC");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("macos") {
        println!("cargo:rustc-cdylib-link-arg=-undefined");
        println!("cargo:rustc-cdylib-link-arg=dynamic_lookup");
    }
    build_shim();
}

fn build_shim() {
    let php_config = env::var("PHP_CONFIG").unwrap_or_else(|_| "php-config".into());
    let includes = run(&php_config, &["--includes"]);
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out.join("zend_shim.o");
    let compiler = env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut compile = Command::new(&compiler);
    compile.args(["-c", "-fPIC", "-O2", "-Wall", "-Werror=implicit-function-declaration"]);
    compile.args(["-Werror=incompatible-pointer-types", "-Werror=int-conversion"]);
    compile.args(includes.split_whitespace());
    compile.arg("src/zend_shim.c").arg("-o").arg(&object);
    check(compile, "compiling src/zend_shim.c against the PHP headers");
    let library = out.join("libweixin_zend_shim.a");
    let _ = std::fs::remove_file(&library);
    let archiver = env::var("AR").unwrap_or_else(|_| "ar".into());
    let mut archive = Command::new(archiver);
    archive.arg("crs").arg(&library).arg(&object);
    check(archive, "archiving the Zend shim");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=weixin_zend_shim");
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run {program} (set PHP_CONFIG to the php-config of the PHP to build for): {e}")
    });
    assert!(output.status.success(), "{program} {args:?} failed");
    String::from_utf8(output.stdout).expect("php-config prints UTF-8")
}

fn check(mut command: Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| panic!("{what}: cannot start {command:?}: {e}"));
    assert!(status.success(), "{what} failed: {command:?}");
}
