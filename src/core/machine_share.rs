//! What the processes of one machine share while memcached is away: the
//! last stable token one of them got, in a file only the PHP user can read,
//! and a lock file so that one of them at a time asks WeChat.
//!
//! The token expires by the machine's boot clock (`CLOCK_BOOTTIME`), the one
//! clock every process here reads alike and no wall-clock step moves, and
//! only in the boot that wrote it. The file holds the boot's id, the token
//! and when it dies, nothing else: no AppSecret. It
//! lives in `/dev/shm/weixin-UID` (memory, gone at reboot), or the system's
//! temporary directory without `/dev/shm`; a directory that is not this
//! user's alone (another user made it first, a symlink, open to others) is
//! not used, and the processes then share nothing.

use std::any::Any;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::token::{is_token, MachineShare};

extern "C" {
    fn weixin_boottime_seconds() -> f64;
}

/// The file format's first word.
const FORMAT: &str = "wx1";

/// One token's files on this machine, found when first needed (a lookup
/// with memcached up never touches them).
pub struct MachineFile<'a> {
    /// What identifies the token: pool, key, account and upstream.
    pub name: &'a str,
}

impl MachineFile<'_> {
    /// The token's file and its lock file; `None` when this machine has no
    /// directory that is this user's alone.
    fn paths(&self) -> Option<(PathBuf, PathBuf)> {
        static DIRECTORY: OnceLock<Option<PathBuf>> = OnceLock::new();
        let directory = DIRECTORY.get_or_init(private_directory).as_ref()?;
        let file = format!("{:016x}", fnv1a(self.name.as_bytes()));
        Some((directory.join(&file), directory.join(format!("{file}.lock"))))
    }
}

impl MachineShare for MachineFile<'_> {
    fn read(&self) -> Option<(String, f64)> {
        let (path, _) = self.paths()?;
        let mut text = String::new();
        File::open(&path).ok()?.take(4096).read_to_string(&mut text).ok()?;
        let mut words = text.split_ascii_whitespace();
        if words.next()? != FORMAT || words.next()? != boot_id()? {
            return None;
        }
        let dies_at: f64 = words.next()?.parse().ok()?;
        let token = words.next().filter(|t| is_token(t))?.to_string();
        let left = dies_at - boottime()?;
        (left > 0.0).then_some((token, left))
    }

    fn write(&self, token: &str, seconds_left: f64) {
        let (Some((path, _)), Some(now), Some(boot)) = (self.paths(), boottime(), boot_id()) else { return };
        let text = format!("{FORMAT} {boot} {:.3} {token}\n", now + seconds_left);
        // Whole or not at all: a reader never sees half a file.
        let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
        let written = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .and_then(|mut file| file.write_all(text.as_bytes()));
        if written.and_then(|()| fs::rename(&temporary, &path)).is_err() {
            let _ = fs::remove_file(&temporary);
        }
    }

    fn lock(&self, wait: Duration) -> Option<Box<dyn Any>> {
        let (_, lock) = self.paths()?;
        let file = OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(lock).ok()?;
        let give_up = Instant::now() + wait;
        let mut pause = Duration::from_millis(10);
        loop {
            if file.try_lock().is_ok() {
                // Unlocked when the file is closed (dropped), even by a
                // process that dies holding it.
                return Some(Box::new(file));
            }
            if Instant::now() >= give_up {
                return None;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

/// This boot's id: a time by the boot clock means nothing after a reboot
/// (a file in a temporary directory may outlive one).
fn boot_id() -> Option<&'static str> {
    static BOOT: OnceLock<Option<String>> = OnceLock::new();
    BOOT.get_or_init(|| {
        let id = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(id.trim().to_string()).filter(|id| !id.is_empty() && !id.contains(char::is_whitespace))
    })
    .as_deref()
}

fn boottime() -> Option<f64> {
    // SAFETY: reads a clock; no arguments.
    let seconds = unsafe { weixin_boottime_seconds() };
    (seconds >= 0.0).then_some(seconds)
}

/// `/dev/shm/weixin-UID` (else in the temporary directory), made if
/// missing, used only if it is a directory of this user's that nobody else
/// may enter.
fn private_directory() -> Option<PathBuf> {
    let uid = fs::metadata("/proc/self").ok()?.uid();
    let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let directory = base.join(format!("weixin-{uid}"));
    let _ = fs::DirBuilder::new().mode(0o700).create(&directory);
    let meta = fs::symlink_metadata(&directory).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0).then_some(directory)
}

/// FNV-1a, 64 bits: a file name from what identifies a token.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> String {
        format!("test|{}|{:?}", std::process::id(), std::thread::current().id())
    }

    #[test]
    fn a_token_is_shared_with_its_life_and_only_with_this_user() {
        let name = name();
        let share = MachineFile { name: &name };
        let (path, lock) = share.paths().unwrap();
        assert_eq!(share.read(), None);
        share.write("TOKEN_1", 100.0);
        let (token, left) = share.read().unwrap();
        assert_eq!(token, "TOKEN_1");
        assert!(left > 99.0 && left <= 100.001, "{left}");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777, 0o700);
        assert!(!fs::read_to_string(&path).unwrap().contains("secret"), "the token and its death only");
        share.write("TOKEN_2", -1.0);
        assert_eq!(share.read(), None, "a dead token is not shared");
        fs::write(&path, format!("wx1 {} 99999999 a b c\n", boot_id().unwrap())).unwrap();
        assert_eq!(share.read().map(|(t, _)| t).as_deref(), Some("a"));
        fs::write(&path, "wx1 another-boot 99999999 a\n").unwrap();
        assert_eq!(share.read(), None, "written before a reboot");
        fs::write(&path, "garbage").unwrap();
        assert_eq!(share.read(), None);
        let _ = fs::remove_file(&path);
        let _ = fs::remove_file(&lock);
    }

    #[test]
    fn one_holder_of_the_lock_at_a_time() {
        let name = name();
        let share = MachineFile { name: &name };
        let held = share.lock(Duration::ZERO).expect("free");
        assert!(share.lock(Duration::from_millis(50)).is_none(), "held elsewhere (another open file)");
        drop(held);
        assert!(share.lock(Duration::ZERO).is_some(), "released");
        let _ = fs::remove_file(share.paths().unwrap().1);
    }
}
