//! The store against a fake memcached on loopback, one thread per
//! connection, scripted per test.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use super::ring::Ring;
use super::*;

/// One accepted connection, as the fake sees it.
struct Peer {
    reader: BufReader<TcpStream>,
    log: Arc<Mutex<Vec<String>>>,
    /// The data block of the last storage command.
    last_data: String,
}

impl Peer {
    /// The next request line (logged); the data block of an `ms` is read
    /// too. `None` once the client closed.
    fn request(&mut self) -> Option<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_string();
        let length_at = match line.split(' ').next() {
            Some("ms") => Some(2),
            Some("set" | "add" | "cas") => Some(4),
            _ => None,
        };
        if let Some(at) = length_at {
            let length: usize = line.split(' ').nth(at)?.parse().ok()?;
            let mut data = vec![0; length + 2];
            self.reader.read_exact(&mut data).ok()?;
            self.last_data = String::from_utf8_lossy(&data[..length]).into_owned();
        }
        self.log.lock().unwrap().push(line.clone());
        Some(line)
    }

    fn reply(&mut self, bytes: &[u8]) {
        let _ = self.reader.get_mut().write_all(bytes);
    }

    /// A well-behaved answer: nothing stored, everything stores.
    fn answer(&mut self, line: &str) {
        self.reply(if line.starts_with("mg ") { b"EN\r\n" } else { b"HD\r\n" });
    }
}

struct Fake {
    address: ServerAddr,
    log: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
    /// Told each time the fake has closed a connection.
    closed: Mutex<mpsc::Receiver<()>>,
}

impl Fake {
    /// Serves each connection with `serve(its number from 0, peer)`; the
    /// connection closes when `serve` returns.
    fn start(serve: impl Fn(usize, &mut Peer) + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let serve = Arc::new(serve);
        let (log2, connections2) = (Arc::clone(&log), Arc::clone(&connections));
        let (closing, closed) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let number = connections2.fetch_add(1, Ordering::SeqCst);
                let mut peer =
                    Peer { reader: BufReader::new(stream), log: Arc::clone(&log2), last_data: String::new() };
                let (serve, closing) = (Arc::clone(&serve), closing.clone());
                thread::spawn(move || {
                    serve(number, &mut peer);
                    drop(peer);
                    let _ = closing.send(());
                });
            }
        });
        Fake { address: ServerAddr { host: "127.0.0.1".into(), port }, log, connections, closed: Mutex::new(closed) }
    }

    /// Answers every request as a well-behaved empty memcached would.
    fn plain() -> Fake {
        Fake::start(|_, peer| {
            while let Some(line) = peer.request() {
                peer.answer(&line);
            }
        })
    }

    fn seen(&self, prefix: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|line| line.starts_with(prefix)).count()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A store pinned to the meta protocol (the fakes speak it unasked).
fn store<'a>(servers: &'a [ServerAddr], home: &'a str) -> Memcached<'a> {
    Memcached {
        servers,
        home,
        timeout: Duration::from_millis(500),
        protocol: MemcacheProtocol::Meta,
        distribution: MemcacheDistribution::Memcache,
    }
}

/// The plain value under `key` and how long memcached keeps it (`mg … t`).
fn get_with_ttl(store: &Memcached, key: &str) -> Result<Option<(String, Option<u32>)>, StoreError> {
    let keys = [key];
    let (reply, _) = store.execute(|_| Request::Get { keys: &keys, ttl: true, cas: false })?;
    Ok(reply
        .first()
        .filter(|item| item.client_flags == Some(0))
        .map(|item| (String::from_utf8(item.value.clone()).unwrap(), item.ttl.and_then(|t| u32::try_from(t).ok()))))
}

impl Fake {
    /// Waits until the fake closed a connection, and lets the close reach
    /// the client's socket.
    fn await_close(&self) {
        self.closed.lock().unwrap().recv_timeout(Duration::from_secs(5)).expect("the fake closed a connection");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_add_whose_reply_is_lost_is_ambiguous_and_never_sent_again() {
    let fake = Fake::start(|_, peer| {
        while let Some(line) = peer.request() {
            if line.ends_with(" ME") {
                return; // read, applied or not, and no reply: the connection closes
            }
            peer.answer(&line);
        }
    });
    let servers = [fake.address.clone()];
    let store = store(&servers, "k");
    assert_eq!(store.get("k"), Ok(None), "a kept connection first");
    let error = store.add("k:lock", "fetching 1", 7).unwrap_err();
    assert_eq!(error.fault, StoreFault::Ambiguous, "{error}");
    assert_eq!(fake.seen("ms k:lock "), 1, "sent once, on no other connection either");
    assert_eq!(store.get("k:lock"), Ok(None), "the server is not skipped: read back at once");
    assert_eq!(fake.seen("ms k:lock "), 1);
}

#[test]
fn a_lost_compare_and_swap_is_ambiguous() {
    let fake = Fake::start(|_, peer| {
        while let Some(line) = peer.request() {
            if line.starts_with("mg ") {
                peer.reply(b"VA 3 c42\r\nold\r\n");
            } else if line.ends_with(" C42") && line.starts_with("ms swap ") {
                peer.reply(b"HD\r\n");
            } else if line.ends_with(" C42") {
                return;
            } else {
                peer.answer(&line);
            }
        }
    });
    let servers = [fake.address.clone()];
    let store = store(&servers, "swap");
    assert_eq!(store.replace_if("swap", "old", "new", 7), Ok(true));
    assert_eq!(fake.seen("ms swap 3 T7 F0 C42"), 1);
    assert_eq!(store.replace_if("swap", "other", "new", 7), Ok(false), "not the expected value: no ms");
    assert_eq!(fake.seen("ms swap "), 1);
    let error = store.replace_if("lost", "old", "new", 7).unwrap_err();
    assert_eq!(error.fault, StoreFault::Ambiguous, "{error}");
    assert_eq!(fake.seen("ms lost "), 1);
}

#[test]
fn server_error_is_full_and_the_server_stays_up() {
    let fake = Fake::start(|_, peer| {
        while let Some(line) = peer.request() {
            if line.starts_with("ms ") {
                peer.reply(b"SERVER_ERROR out of memory storing object\r\n");
            } else {
                peer.reply(b"VA 2 f0\r\nT1\r\n");
            }
        }
    });
    let servers = [fake.address.clone()];
    let store = store(&servers, "k");
    let error = store.set("k", "T2", 60).unwrap_err();
    assert_eq!(error.fault, StoreFault::Full, "{error}");
    assert!(error.message.contains("out of memory storing object"), "{error}");
    assert_eq!(store.add("k:lock", "x", 7).unwrap_err().fault, StoreFault::Full);
    assert_eq!(store.get("k").unwrap().as_deref(), Some("T1"), "reads still work");
    assert_eq!(fake.connections(), 1, "one connection all along");
}

#[test]
fn a_dead_kept_connection_is_replaced() {
    let fake = Fake::start(|number, peer| {
        while let Some(line) = peer.request() {
            peer.answer(&line);
            if number < 2 {
                return; // the first two connections close after one reply (an idle timeout)
            }
        }
    });
    let servers = [fake.address.clone()];
    let store = store(&servers, "k");
    assert_eq!(store.get("k"), Ok(None));
    fake.await_close();
    assert_eq!(store.get("k"), Ok(None), "a get goes out again on a new connection");
    fake.await_close();
    assert_eq!(store.add("k:lock", "fetching 1", 7), Ok(true), "an add goes out on a live connection");
    assert_eq!(fake.seen("ms k:lock "), 1);
    assert_eq!(fake.seen("mg k "), 2, "the fake never read the get sent on the dead connection");
    assert_eq!(fake.connections(), 3);
}

#[test]
fn replies_split_across_small_writes_are_read_whole() {
    let long = "x".repeat(10_000);
    let value = long.clone();
    let fake = Fake::start(move |_, peer| {
        while let Some(line) = peer.request() {
            let (reply, size) = if line == "mg k v f t" {
                // A data block that holds "\r\n" itself.
                (b"VA 10 f0 t100 c5\r\n0123\r\n6789\r\n".to_vec(), 3)
            } else {
                (format!("VA {} f0\r\n{value}\r\n", value.len()).into_bytes(), 997)
            };
            for chunk in reply.chunks(size) {
                peer.reply(chunk);
                thread::sleep(Duration::from_micros(200));
            }
        }
    });
    let servers = [fake.address.clone()];
    let store = store(&servers, "k");
    assert_eq!(get_with_ttl(&store, "k"), Ok(Some(("0123\r\n6789".to_string(), Some(100)))));
    assert!(store.get("big").unwrap() == Some(long), "a value larger than the buffer");
    assert_eq!(get_with_ttl(&store, "k"), Ok(Some(("0123\r\n6789".to_string(), Some(100)))));
    assert_eq!(fake.connections(), 1);
}

#[test]
fn only_plain_strings_are_values() {
    let fake = Fake::start(|_, peer| {
        while let Some(line) = peer.request() {
            peer.reply(match line.as_str() {
                "mg serialized v f t" => b"VA 4 f1 t-1\r\nb:1;\r\n",
                "mg forever v f t" => b"VA 2 f0 t-1\r\nT1\r\n",
                _ => b"EN\r\n",
            });
        }
    });
    let servers = [fake.address.clone()];
    let store = store(&servers, "k");
    assert_eq!(get_with_ttl(&store, "serialized"), Ok(None));
    assert_eq!(get_with_ttl(&store, "forever"), Ok(Some(("T1".to_string(), None))), "no expiry");
    assert_eq!(get_with_ttl(&store, "missing"), Ok(None));
}

#[test]
fn a_silent_server_times_out_and_is_skipped() {
    let fake = Fake::start(|_, peer| while peer.request().is_some() {});
    let servers = [fake.address.clone()];
    let store = Memcached {
        servers: &servers,
        home: "k",
        timeout: Duration::from_millis(100),
        protocol: MemcacheProtocol::Meta,
        distribution: MemcacheDistribution::Memcache,
    };
    let started = Instant::now();
    let error = store.get("k").unwrap_err();
    let took = started.elapsed();
    assert_eq!(error.fault, StoreFault::Unreachable);
    assert!(error.message.contains("timed out after 100ms"), "{error}");
    assert!(took >= Duration::from_millis(100) && took < Duration::from_millis(400), "{took:?}");
    let error = store.get("k").unwrap_err();
    assert!(error.message.contains("failed moments ago"), "{error}");
    assert_eq!(fake.seen("mg "), 1, "not sent again on a fresh connection");
}

#[test]
fn an_old_memcached_is_named() {
    let fake = Fake::start(|_, peer| {
        while peer.request().is_some() {
            peer.reply(b"ERROR\r\n");
        }
    });
    let servers = [fake.address.clone()];
    let error = store(&servers, "k").get("k").unwrap_err();
    assert_eq!(error.fault, StoreFault::Unreachable);
    assert!(error.message.contains("weixin.memcache_protocol=meta needs memcached 1.6 or newer"), "{error}");
}

#[test]
fn nobody_listening_is_unreachable() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let servers = [ServerAddr { host: "127.0.0.1".into(), port }];
    let error = store(&servers, "k").add("k:lock", "x", 7).unwrap_err();
    assert_eq!(error.fault, StoreFault::Unreachable, "nothing was sent: not ambiguous");
    assert!(error.message.contains("check weixin.memcache_servers"), "{error}");
}

#[test]
fn every_key_goes_to_the_plain_keys_server() {
    let fakes = [Fake::plain(), Fake::plain(), Fake::plain()];
    let servers: Vec<ServerAddr> = fakes.iter().map(|f| f.address.clone()).collect();
    let ring = Ring::new(&servers);
    // A key whose companions would land elsewhere on their own.
    let home = (0..1000)
        .map(|i| format!("token{i}"))
        .find(|k| {
            let at = ring.server_for(k);
            ring.server_for(&format!("{k}:lock")) != at && ring.server_for(&format!("{k}:meta")) != at
        })
        .unwrap();
    let store = store(&servers, &home);
    store.read_token(&Keys::new(&home, false), None).unwrap();
    store.set(&format!("{home}:meta"), "v1", 60).unwrap();
    store.add(&format!("{home}:lock"), "x", 7).unwrap();
    store.delete_if(&format!("{home}:lock"), "x").unwrap();
    let at = ring.server_for(&home);
    for (index, fake) in fakes.iter().enumerate() {
        let expected = if index == at { 4 } else { 0 };
        assert_eq!(fake.log.lock().unwrap().len(), expected, "server {index} (home on {at})");
    }
}

/// Signals (a PHP pcntl handler, a timer) interrupt the blocking read of a
/// slow reply many times: every EINTR is retried, none is an error.
#[cfg(target_os = "linux")]
#[test]
fn signals_during_an_exchange_are_not_failures() {
    use std::os::raw::{c_int, c_ulong};
    use std::os::unix::thread::JoinHandleExt;

    extern "C" {
        fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
        fn pthread_kill(thread: c_ulong, signum: c_int) -> c_int;
    }
    const SIGUSR2: c_int = 12;
    static HANDLED: AtomicUsize = AtomicUsize::new(0);
    extern "C" fn count(_: c_int) {
        HANDLED.fetch_add(1, Ordering::SeqCst);
    }

    let fake = Fake::start(|_, peer| {
        while peer.request().is_some() {
            thread::sleep(Duration::from_millis(200));
            peer.reply(b"VA 2 f0\r\nT1\r\n");
        }
    });
    let servers = [fake.address.clone()];
    // SAFETY: the handler only touches an atomic; signals go to one thread.
    unsafe { signal(SIGUSR2, count) };
    let client = thread::spawn(move || store(&servers, "k").get("k"));
    let target = client.as_pthread_t() as c_ulong;
    while !client.is_finished() {
        // SAFETY: the thread is joined only after the loop: it still exists.
        unsafe { pthread_kill(target, SIGUSR2) };
        thread::sleep(Duration::from_micros(500));
    }
    assert_eq!(client.join().unwrap(), Ok(Some("T1".to_string())));
    assert!(HANDLED.load(Ordering::SeqCst) > 50, "{} signals", HANDLED.load(Ordering::SeqCst));
    assert_eq!(fake.connections(), 1, "no second connection");
}

/// A fake that counts like memcached: `ma K N<ttl> J<initial> D<delta> v`
/// creates or adds; `mg` reads (client flags 0, as `ma` creates them);
/// "junk" holds something that is not a number.
fn counting_fake() -> Fake {
    let counts = Arc::new(Mutex::new(std::collections::HashMap::<String, u64>::new()));
    Fake::start(move |_, peer| {
        while let Some(line) = peer.request() {
            let words: Vec<&str> = line.split(' ').collect();
            let flag = |f: char| words.iter().find_map(|w| w.strip_prefix(f)).and_then(|v| v.parse::<u64>().ok());
            let reply = match words[..] {
                [_, "junk", ..] if words[0] == "ma" => {
                    "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n".to_string()
                }
                [_, "junk", ..] => "VA 3 f0\r\nabc\r\n".to_string(),
                ["ma", key, ..] => {
                    let mut counts = counts.lock().unwrap();
                    let value = match counts.get(key) {
                        Some(now) => now + flag('D').unwrap_or(1),
                        None if flag('N').is_some() => flag('J').unwrap_or(0),
                        None => {
                            peer.reply(b"NF\r\n");
                            continue;
                        }
                    };
                    counts.insert(key.to_string(), value);
                    format!("VA {}\r\n{value}\r\n", value.to_string().len())
                }
                ["mg", key, ..] => match counts.lock().unwrap().get(key) {
                    Some(value) => format!("VA {} f0\r\n{value}\r\n", value.to_string().len()),
                    None => "EN\r\n".to_string(),
                },
                _ => "HD\r\n".to_string(),
            };
            peer.reply(reply.as_bytes());
        }
    })
}

fn counters(servers: &[ServerAddr]) -> Counters<'_> {
    Counters {
        servers,
        timeout: Duration::from_millis(500),
        protocol: MemcacheProtocol::Meta,
        distribution: MemcacheDistribution::Memcache,
    }
}

#[test]
fn counters_count_with_one_increment_each_and_read_back() {
    let fake = counting_fake();
    let servers = [fake.address.clone()];
    let counters = counters(&servers);
    let key = "weixin_requests:wx1:20261124";
    assert_eq!(counters.read(key), Ok(0), "nothing counted yet");
    assert_eq!(counters.add_one(key, 172_800), Ok(1), "created at 1");
    assert_eq!(counters.add_one(key, 172_800), Ok(2));
    assert_eq!(counters.add_one("weixin_requests:wx2:20261124", 172_800), Ok(1));
    assert_eq!(counters.read(key), Ok(2));
    assert_eq!(fake.seen(&format!("ma {key} N172800 J1 D1 v")), 2, "{:?}", fake.log.lock().unwrap());
    assert_eq!(fake.seen("ma "), 3, "one command per count");
    assert_eq!(fake.connections(), 1);
}

#[test]
fn an_increment_whose_reply_is_lost_is_ambiguous_and_never_sent_again() {
    let fake = Fake::start(|_, peer| {
        while let Some(line) = peer.request() {
            if line.starts_with("ma ") {
                return; // read, applied or not, and no reply: the connection closes
            }
            peer.answer(&line);
        }
    });
    let servers = [fake.address.clone()];
    let counters = counters(&servers);
    assert_eq!(counters.read("k"), Ok(0), "a kept connection first");
    let error = counters.add_one("k", 60).unwrap_err();
    assert_eq!(error.fault, StoreFault::Ambiguous, "{error}");
    assert_eq!(fake.seen("ma "), 1, "sent once, on no other connection either");
    assert_eq!(counters.read("k"), Ok(0), "the server is not skipped");
    assert_eq!(fake.seen("ma "), 1);
}

#[test]
fn a_counter_that_is_not_a_number_is_full_and_the_server_stays_up() {
    let fake = counting_fake();
    let servers = [fake.address.clone()];
    let counters = counters(&servers);
    let error = counters.add_one("junk", 60).unwrap_err();
    assert_eq!(error.fault, StoreFault::Full, "{error}");
    assert!(error.message.contains("not a number under junk"), "{error}");
    assert!(error.message.contains(&fake.address.to_string()), "names the server: {error}");
    assert_eq!(counters.read("junk").unwrap_err().fault, StoreFault::Full);
    assert_eq!(counters.add_one("k", 60), Ok(1), "not skipped, still in step");
    assert_eq!(fake.connections(), 1, "one connection all along");
}

#[test]
fn an_increment_not_stored_is_full() {
    let fake = Fake::start(|_, peer| {
        while let Some(line) = peer.request() {
            peer.reply(if line.starts_with("ma ") { b"NS\r\n" } else { b"EN\r\n" });
        }
    });
    let servers = [fake.address.clone()];
    let error = counters(&servers).add_one("k", 60).unwrap_err();
    assert_eq!(error.fault, StoreFault::Full, "{error}");
    assert_eq!(counters(&servers).read("k"), Ok(0), "the server is up");
}

#[test]
fn a_counter_goes_to_its_own_keys_server() {
    let fakes = [counting_fake(), counting_fake(), counting_fake()];
    let servers: Vec<ServerAddr> = fakes.iter().map(|f| f.address.clone()).collect();
    let ring = Ring::new(&servers);
    for appid in ["wx1", "wx2", "wx3", "wx4", "wx5", "wx6"] {
        let key = format!("weixin_requests:{appid}:20261124");
        assert_eq!(counters(&servers).add_one(&key, 60), Ok(1));
        let at = ring.server_for(&key);
        for (index, fake) in fakes.iter().enumerate() {
            assert_eq!(fake.seen(&format!("ma {key} ")), usize::from(index == at), "{key}: server {index}");
        }
    }
}

/// A memcached that speaks only classic text commands, over a map (no
/// expiry): `on_probe` says what it does with a meta no-op.
#[derive(Clone, Copy)]
enum OnProbe {
    /// memcached 1.4/1.5: `ERROR`.
    Error,
    /// twemproxy: hangs up.
    HangUp,
}

fn classic_fake(on_probe: OnProbe) -> Fake {
    let items: Arc<Mutex<HashMap<String, (String, u64)>>> = Arc::default();
    let next_cas = Arc::new(AtomicUsize::new(1));
    Fake::start(move |_, peer| {
        while let Some(line) = peer.request() {
            let words: Vec<&str> = line.split(' ').collect();
            let mut items = items.lock().unwrap();
            let reply = match words[0] {
                "mn" | "mg" | "ms" | "md" | "ma" => match on_probe {
                    OnProbe::Error => "ERROR\r\n".to_string(),
                    OnProbe::HangUp => return,
                },
                "get" | "gets" => {
                    let mut out = String::new();
                    for key in &words[1..] {
                        if let Some((value, cas)) = items.get(*key) {
                            let cas = if words[0] == "gets" { format!(" {cas}") } else { String::new() };
                            out.push_str(&format!("VALUE {key} 0 {}{cas}\r\n{value}\r\n", value.len()));
                        }
                    }
                    out + "END\r\n"
                }
                "set" | "add" | "cas" => {
                    let present = items.get(words[1]).cloned();
                    let cas = next_cas.fetch_add(1, Ordering::SeqCst) as u64;
                    let value = peer.last_data.clone();
                    let expired = words[3] == "2592001";
                    match (words[0], present) {
                        ("add", Some(_)) => "NOT_STORED\r\n".to_string(),
                        ("cas", None) => "NOT_FOUND\r\n".to_string(),
                        ("cas", Some((_, old))) if old.to_string() != words[5] => "EXISTS\r\n".to_string(),
                        _ => {
                            if expired {
                                items.remove(words[1]);
                            } else {
                                items.insert(words[1].to_string(), (value, cas));
                            }
                            "STORED\r\n".to_string()
                        }
                    }
                }
                "incr" => match items.get_mut(words[1]) {
                    Some((value, _)) => {
                        let n: u64 = value.trim().parse::<u64>().unwrap() + words[2].parse::<u64>().unwrap();
                        *value = n.to_string();
                        format!("{n}\r\n")
                    }
                    None => "NOT_FOUND\r\n".to_string(),
                },
                _ => "ERROR\r\n".to_string(),
            };
            drop(items);
            peer.reply(reply.as_bytes());
        }
    })
}

fn auto<'a>(servers: &'a [ServerAddr], home: &'a str) -> Memcached<'a> {
    Memcached {
        servers,
        home,
        timeout: Duration::from_millis(500),
        protocol: MemcacheProtocol::Auto,
        distribution: MemcacheDistribution::Memcache,
    }
}

#[test]
fn a_server_without_meta_commands_is_spoken_to_in_classic_commands_unwarned() {
    for on_probe in [OnProbe::Error, OnProbe::HangUp] {
        let fake = classic_fake(on_probe);
        let servers = [fake.address.clone()];
        let store = auto(&servers, "k");
        let keys = Keys::new("k", false);
        assert_eq!(store.read_token(&keys, None), Ok(None));
        store.set("k", "T1", 60).unwrap();
        store.set("k:meta", "v3 61 50 59 60 T1", 50).unwrap();
        let seen = store.read_token(&keys, Some("T1")).unwrap().unwrap();
        assert_eq!(seen, Sighting { token: "T1".into(), record: Some("v3 61 50 59 60 T1".into()), age: Age::Untold });
        // The lock: add, compare-and-swap, compare-and-delete.
        assert!(store.add("k:lock", "A", 7).unwrap());
        assert!(!store.add("k:lock", "B", 7).unwrap());
        assert!(!store.replace_if("k:lock", "B", "C", 7).unwrap());
        assert!(store.replace_if("k:lock", "A", "C", 7).unwrap());
        store.delete_if("k:lock", "A").unwrap();
        assert_eq!(store.get("k:lock").unwrap().as_deref(), Some("C"), "another value stays");
        store.delete_if("k:lock", "C").unwrap();
        assert_eq!(store.get("k:lock").unwrap(), None);
        // Counting: created by add, then incr.
        assert_eq!(store.increment("n", 1, 1, 60), Ok(1));
        assert_eq!(store.increment("n", 1, 1, 60), Ok(2));
        assert_eq!(fake.seen("mn"), 1, "asked once");
        assert_eq!(fake.seen("mg") + fake.seen("ms") + fake.seen("ma") + fake.seen("md"), 0);
        assert_eq!(fake.seen("gets k:lock"), 4);
        let expected_connections = match on_probe {
            OnProbe::Error => 1,
            OnProbe::HangUp => 2,
        };
        assert_eq!(fake.connections(), expected_connections);
    }
}

#[test]
fn a_server_that_answers_the_probe_is_spoken_to_in_meta_commands() {
    let fake = Fake::start(|_, peer| {
        while let Some(line) = peer.request() {
            peer.reply(if line == "mn" { b"MN\r\n" } else { b"EN\r\n" });
        }
    });
    let servers = [fake.address.clone()];
    let store = auto(&servers, "k");
    assert_eq!(store.get("a"), Ok(None));
    assert_eq!(store.get("b"), Ok(None));
    assert_eq!((fake.seen("mn"), fake.seen("mg "), fake.connections()), (1, 2, 1));
}

#[test]
fn a_silent_server_is_not_taken_for_an_old_one() {
    let fake = Fake::start(|_, peer| while peer.request().is_some() {});
    let servers = [fake.address.clone()];
    let store = Memcached { servers: &servers, home: "k", timeout: Duration::from_millis(100), ..auto(&servers, "k") };
    let error = store.get("k").unwrap_err();
    assert_eq!(error.fault, StoreFault::Unreachable);
    assert!(error.message.contains("timed out"), "{error}");
}

#[test]
fn pinned_to_text_a_server_is_never_probed() {
    let fake = classic_fake(OnProbe::HangUp);
    let servers = [fake.address.clone()];
    let store = Memcached { protocol: MemcacheProtocol::Text, ..auto(&servers, "k") };
    store.set("k", "T1", 60).unwrap();
    assert_eq!(store.get("k").unwrap().as_deref(), Some("T1"));
    assert_eq!((fake.seen("mn"), fake.connections()), (0, 1));
}

#[test]
fn each_distribution_puts_a_token_and_a_counter_where_its_client_puts_their_keys() {
    let fakes = [counting_fake(), counting_fake()];
    let servers = [fakes[0].address.clone(), fakes[1].address.clone()];
    let mut placements = Placements::default();
    let mut at = |distribution: MemcacheDistribution, key: &str| placements.server_for(distribution, &servers, key);
    // Keys the two clients put on different servers.
    let mut disputed = (0..)
        .map(|i| format!("key{i}"))
        .filter(|key| at(MemcacheDistribution::Memcache, key) != at(MemcacheDistribution::Memcached, key));
    let (home, counter) = (disputed.next().unwrap(), disputed.next().unwrap());
    drop(disputed);
    for distribution in [MemcacheDistribution::Memcache, MemcacheDistribution::Memcached] {
        let tokens = Memcached { distribution, ..store(&servers, &home) };
        tokens.set(&home, "token", 60).unwrap();
        tokens.set(&format!("{home}:meta"), "record", 60).unwrap();
        let counters = Counters { distribution, ..counters(&servers) };
        assert_eq!(counters.add_one(&counter, 60), Ok(1));
        let (home_at, counter_at) = (at(distribution, &home), at(distribution, &counter));
        for (index, fake) in fakes.iter().enumerate() {
            let tokens_here = fake.seen(&format!("ms {home} ")) + fake.seen(&format!("ms {home}:meta "));
            assert_eq!(tokens_here, if index == home_at { 2 } else { 0 }, "{distribution:?}: server {index}");
            assert_eq!(fake.seen(&format!("ma {counter} ")), usize::from(index == counter_at), "{distribution:?}");
        }
        fakes.iter().for_each(|fake| fake.log.lock().unwrap().clear());
    }
}

/// `count` spellings of 127.0.0.1 that the system's resolver reads as it
/// (inet_aton: octal, hexadecimal, fewer parts): each one a server of its
/// own to this extension, as to PECL memcache, which hashes the spelling.
fn spellings_of_loopback(count: usize) -> Vec<String> {
    let first = ["127", "0177", "0x7f", "0x7F", "00177", "0X7f", "0x07f", "000177"];
    let zero = ["0", "00", "000", "0x0", "0x00"];
    let one = ["1", "01", "001", "0x1", "0x01"];
    let mut spellings = Vec::new();
    for a in first {
        for b in zero {
            for c in zero {
                for d in one {
                    spellings.push(format!("{a}.{b}.{c}.{d}"));
                }
            }
        }
    }
    assert!(spellings.len() >= count);
    spellings.truncate(count);
    spellings
}

/// The process's table of servers (not the global one: other tests use it
/// meanwhile), with a real socket per server.
#[test]
fn a_process_keeps_at_most_max_servers_and_closes_the_sockets_of_those_it_drops() {
    let fake = Fake::plain();
    let extra = 8;
    let mut connections = ProcessConnections::default();
    let deadline = Instant::now() + Duration::from_secs(60);
    for host in spellings_of_loopback(MAX_SERVERS + extra) {
        let address = ServerAddr { host, port: fake.address.port };
        let connection = Connection::open(&address, deadline).unwrap_or_else(|failure| panic!("{address}: {failure}"));
        let (server, evicted) = connections.server(&address);
        server.idle = Some(connection);
        drop(evicted);
    }
    assert_eq!(connections.servers.len(), MAX_SERVERS);
    let closed = fake.closed.lock().unwrap();
    for dropped in 0..extra {
        // A wide margin: the close is on its way once the socket is dropped.
        closed.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| panic!("socket {dropped} is still open"));
    }
    assert!(closed.try_recv().is_err(), "the sockets of the servers kept stay open");
    // The first spelling was the one used longest ago: it went first.
    let first = ServerAddr { host: spellings_of_loopback(1).remove(0), port: fake.address.port };
    assert!(connections.servers.get_mut(&first).is_none());
}
