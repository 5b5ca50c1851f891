//! Compiles `posix_shim.c` (thread signal masks, fork notification, random
//! bytes: what the system headers define) into a static library. No PHP is
//! needed: `cargo test -p weixin-core` runs anywhere.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=posix_shim.c");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out.join("posix_shim.o");
    let compiler = env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut compile = Command::new(&compiler);
    compile.args(["-c", "-fPIC", "-O2", "-Wall", "-Werror=implicit-function-declaration"]);
    compile.args(["-Werror=incompatible-pointer-types", "-Werror=int-conversion"]);
    compile.arg("posix_shim.c").arg("-o").arg(&object);
    check(compile, "compiling posix_shim.c");
    let library = out.join("libweixin_posix_shim.a");
    let _ = std::fs::remove_file(&library);
    let mut archive = Command::new(env::var("AR").unwrap_or_else(|_| "ar".into()));
    archive.arg("crs").arg(&library).arg(&object);
    check(archive, "archiving the POSIX shim");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=weixin_posix_shim");
}

fn check(mut command: Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| panic!("{what}: cannot start {command:?}: {e}"));
    assert!(status.success(), "{what} failed: {command:?}");
}
