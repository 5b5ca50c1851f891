//! The shared token cache: memcached, in the format legacy PHP code uses (the
//! plain token string, flags 0), so that old and new servers share one token.
//!
//! Connections are per process and lazily made; a process that finds it was
//! forked (its pid changed) forgets the inherited ones and connects anew, so
//! parent and child never read each other's replies on one socket. A server
//! that fails is skipped for a moment, so a dead or blackholed memcached
//! costs one short timeout now and then, not one per lookup.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use memcache::{Client, ConnectionManager, Url};

use crate::config::{ServerAddr, MAX_KEY_LEN};
use crate::error::WeixinError;
use crate::ring::Ring;
use crate::token::{SharedStore, LONGEST_SUFFIX};

/// Longest value taken for a token; anything longer is not one.
const MAX_TOKEN_LEN: usize = 2048;

/// How long a failed server is skipped before it is tried again.
const RETRY_DOWN_SERVER_AFTER: Duration = Duration::from_secs(2);

/// Builds the memcached key from `weixin.cache_key`, with `{appid}` replaced.
///
/// Bytes memcached's text protocol cannot carry in a key (space, control
/// characters, non-ASCII) and `%` itself are percent-escaped, so a hostile
/// AppID cannot inject commands and distinct inputs stay distinct keys. A key
/// that is already safe (the legacy `access_token`) is used unchanged.
pub fn make_key(template: &str, appid: &str) -> Result<String, WeixinError> {
    let raw = template.replace("{appid}", appid);
    if raw.is_empty() {
        return Err(WeixinError::config("weixin.cache_key is empty"));
    }
    let mut key = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_graphic() && byte != b'%' {
            key.push(byte as char);
        } else {
            key.push_str(&format!("%{byte:02X}"));
        }
    }
    // Room for the suffixes of the companion keys (`:stable:meta`).
    let limit = MAX_KEY_LEN - LONGEST_SUFFIX;
    if key.len() > limit {
        return Err(WeixinError::config(format!(
            "the memcached key is {} bytes after escaping, over the {limit} allowed: shorten weixin.cache_key",
            key.len()
        )));
    }
    Ok(key)
}

/// A cached value is a token only if it looks like one; anything else (the
/// empty string legacy code caches after a failure, a serialized PHP value)
/// counts as a miss.
pub fn as_token(bytes: Vec<u8>, flags: u32) -> Option<String> {
    let plain_string = flags == 0;
    let looks_right = !bytes.is_empty()
        && bytes.len() <= MAX_TOKEN_LEN
        && bytes.iter().all(|b| b.is_ascii_graphic());
    if plain_string && looks_right {
        String::from_utf8(bytes).ok()
    } else {
        None
    }
}

/// memcached at the configured servers, through this process's connections.
pub struct Memcached<'a> {
    pub servers: &'a [ServerAddr],
    pub timeout: Duration,
}

struct ProcessConnections {
    pid: u32,
    rings: HashMap<Vec<ServerAddr>, Ring>,
    clients: HashMap<(ServerAddr, Duration), Client>,
    down_until: HashMap<ServerAddr, Instant>,
}

static CONNECTIONS: Mutex<Option<ProcessConnections>> = Mutex::new(None);

impl Memcached<'_> {
    /// Runs `op` on the connection to the server that holds `key`. A failed
    /// connection is dropped, so the next call reconnects instead of reading
    /// a reply left half-way on the old socket.
    fn with_client<T>(
        &self,
        key: &str,
        op: impl FnOnce(&Client) -> Result<T, memcache::MemcacheError>,
    ) -> Result<T, WeixinError> {
        let pid = std::process::id();
        let mut guard = CONNECTIONS.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_some_and(|c| c.pid != pid) {
            // Inherited across fork(): the parent still owns those sockets,
            // and the pools' worker threads did not come along.
            std::mem::forget(guard.take());
        }
        let connections = guard.get_or_insert_with(|| ProcessConnections {
            pid,
            rings: HashMap::new(),
            clients: HashMap::new(),
            down_until: HashMap::new(),
        });
        let index = connections
            .rings
            .entry(self.servers.to_vec())
            .or_insert_with(|| Ring::new(self.servers))
            .server_for(key);
        let server = &self.servers[index];
        if let Some(until) = connections.down_until.get(server) {
            if Instant::now() < *until {
                return Err(WeixinError::local(format!(
                    "memcached at {server} failed moments ago; retrying it shortly (check weixin.memcache_servers)"
                )));
            }
        }
        let slot = (server.clone(), self.timeout);
        if !connections.clients.contains_key(&slot) {
            let client = connect(server, self.timeout).map_err(|e| describe(server, e))?;
            connections.clients.insert(slot.clone(), client);
        }
        let client = &connections.clients[&slot];
        match op(client) {
            Ok(value) => {
                connections.down_until.remove(server);
                Ok(value)
            }
            Err(error) => {
                connections.down_until.insert(server.clone(), Instant::now() + RETRY_DOWN_SERVER_AFTER);
                // A pool that could not connect in time keeps trying in its
                // own thread: keep it. Any other error may have left a reply
                // half-read on the socket: drop the connection.
                if !matches!(error, memcache::MemcacheError::PoolError(_)) {
                    connections.clients.remove(&slot);
                }
                Err(describe(server, error))
            }
        }
    }
}

impl SharedStore for Memcached<'_> {
    fn get(&self, key: &str) -> Result<Option<String>, WeixinError> {
        let raw: Option<(Vec<u8>, u32, Option<u64>)> = self.with_client(key, |c| c.get(key))?;
        // Only plain strings (flags 0): a serialized or compressed PHP value
        // is nothing this extension wrote or can use.
        Ok(raw
            .filter(|(_, flags, _)| *flags == 0)
            .and_then(|(bytes, _, _)| String::from_utf8(bytes).ok()))
    }

    fn set(&self, key: &str, value: &str, ttl: u32) -> Result<(), WeixinError> {
        self.with_client(key, |c| c.set(key, value, ttl))
    }

    fn add(&self, key: &str, value: &str, ttl: u32) -> Result<(), WeixinError> {
        self.with_client(key, |c| c.add(key, value, ttl))
    }

    fn delete(&self, key: &str) -> Result<(), WeixinError> {
        self.with_client(key, |c| c.delete(key).map(|_| ()))
    }
}

/// A pool of one connection, made on first use. The pool checks nothing on
/// checkout (no extra round trip per get) and waits at most `timeout` for a
/// connection, so a dead server costs one short wait, not a TCP timeout.
fn connect(server: &ServerAddr, timeout: Duration) -> Result<Client, memcache::MemcacheError> {
    let url = Url::parse(&format!(
        "memcache://{server}?protocol=ascii&timeout={}",
        timeout.as_secs_f64()
    ))
    .map_err(|e| memcache::MemcacheError::BadURL(e.to_string()))?;
    let pool = memcache::Pool::builder()
        .max_size(1)
        .min_idle(Some(0))
        .test_on_check_out(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .connection_timeout(timeout)
        .build_unchecked(ConnectionManager::new(url));
    Client::with_pool(pool)
}

fn describe(server: &ServerAddr, error: memcache::MemcacheError) -> WeixinError {
    WeixinError::local(format!(
        "memcached at {server} failed: {error} (check weixin.memcache_servers)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_keys_are_unchanged() {
        assert_eq!(make_key("access_token", "wx1").unwrap(), "access_token");
        assert_eq!(make_key("wx_{appid}_token", "wx1234").unwrap(), "wx_wx1234_token");
    }

    #[test]
    fn hostile_appids_cannot_inject_commands() {
        let key = make_key("t_{appid}", "x 0 0 1\r\nset evil 0 0 1\r\nA").unwrap();
        assert!(key.bytes().all(|b| b.is_ascii_graphic()), "{key}");
        assert_eq!(key, "t_x%200%200%201%0D%0Aset%20evil%200%200%201%0D%0AA");
    }

    #[test]
    fn escaping_keeps_distinct_inputs_distinct() {
        // '%' is escaped too, so "a b" and a literal "a%20b" differ.
        assert_ne!(make_key("{appid}", "a b").unwrap(), make_key("{appid}", "a%20b").unwrap());
    }

    #[test]
    fn over_long_keys_are_refused() {
        assert!(make_key("{appid}", &"x".repeat(239)).is_err());
        assert!(make_key("{appid}", &"x".repeat(238)).is_ok());
        assert!(make_key("", "wx").is_err());
    }

    #[test]
    fn only_plain_token_strings_count() {
        assert_eq!(as_token(b"TOKEN_abc-1".to_vec(), 0), Some("TOKEN_abc-1".into()));
        assert_eq!(as_token(b"".to_vec(), 0), None);
        assert_eq!(as_token(b"a b".to_vec(), 0), None);
        assert_eq!(as_token(b"s:3:\"abc\";".to_vec(), 1), None);
    }
}
