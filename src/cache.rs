//! The shared token cache: memcached, in the format legacy PHP code uses (the
//! plain token string, flags 0), so that old and new servers share one token.
//!
//! Spoken through memcached's meta protocol (memcached 1.6+): a real "add",
//! compare-and-delete, and one blocking socket per server per process, with
//! no pool threads.
//!
//! Connections are per process and lazily made; a process that finds it was
//! forked (its pid changed) closes its copies of the inherited ones and
//! connects anew, so parent and child never read each other's replies on one
//! socket. A server
//! that fails is skipped for a moment, so a dead or blackholed memcached
//! costs one short timeout now and then, not one per lookup.

use std::collections::HashMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use memcache::exp::{MetaCommand, MetaConnection, MetaOp, MetaResponse, ReturnCode};

use crate::config::{ServerAddr, MAX_KEY_LEN};
use crate::error::WeixinError;
use crate::ring::Ring;
use crate::token::{SharedStore, StoreError, StoreFault, LONGEST_SUFFIX};

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

/// Whether a value looks like an access token: anything else (the empty
/// string legacy code caches after a failure, text with spaces) counts as a
/// miss. Non-string PHP values never get here: `get` takes only flags 0.
pub fn is_token(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_TOKEN_LEN && value.bytes().all(|b| b.is_ascii_graphic())
}

/// memcached at the configured servers, through this process's connections.
pub struct Memcached<'a> {
    pub servers: &'a [ServerAddr],
    pub timeout: Duration,
}

/// This process's connections: one per server, no threads, no pool.
struct ProcessConnections {
    pid: u32,
    rings: HashMap<Vec<ServerAddr>, Ring>,
    connections: HashMap<ServerAddr, MetaConnection>,
    down_until: HashMap<ServerAddr, Instant>,
}

static CONNECTIONS: Mutex<Option<ProcessConnections>> = Mutex::new(None);

impl Memcached<'_> {
    /// Runs one command on the connection to the server that holds `key`,
    /// connecting first if needed. A connection that failed is closed, so
    /// the next command never reads a reply left half-way on it.
    fn execute(&self, key: &str, command: &MetaCommand) -> Result<MetaResponse, StoreError> {
        let pid = std::process::id();
        let mut guard = CONNECTIONS.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_some_and(|c| c.pid != pid) {
            // Inherited across fork(): those sockets are shared with the
            // parent. Closing this process's copies leaves the parent's
            // connections open; using them would mix the two's replies.
            *guard = None;
        }
        let connections = guard.get_or_insert_with(|| ProcessConnections {
            pid,
            rings: HashMap::new(),
            connections: HashMap::new(),
            down_until: HashMap::new(),
        });
        if !connections.rings.contains_key(self.servers) {
            connections.rings.insert(self.servers.to_vec(), Ring::new(self.servers));
        }
        let index = connections.rings[self.servers].server_for(key);
        let server = &self.servers[index];
        if let Some(until) = connections.down_until.get(server) {
            if Instant::now() < *until {
                return Err(StoreError::new(StoreFault::Unreachable, format!(
                    "memcached at {server} failed moments ago and is retried shortly (check weixin.memcache_servers)"
                )));
            }
        }
        let mut outcome = match connections.connections.get_mut(server) {
            Some(open) => {
                open.set_io_timeout(Some(self.timeout)); // weixin.memcache_timeout may have changed
                open.execute(command)
            }
            None => Err(memcache::exp::Error::Io(std::io::ErrorKind::NotConnected.into())),
        };
        // A kept connection may have died since (memcached restarted, an idle
        // timeout): one fresh connection is tried before the server counts as
        // down. Not after a timeout, which would only double the wait.
        if outcome.as_ref().is_err_and(|error| !is_timeout(error)) {
            connections.connections.remove(server);
            outcome = connect(server, self.timeout).and_then(|mut connection| {
                let response = connection.execute(command);
                connections.connections.insert(server.clone(), connection);
                response
            });
        }
        match outcome {
            Ok(response) => {
                connections.down_until.remove(server);
                Ok(response)
            }
            Err(error) => {
                connections.connections.remove(server);
                connections.down_until.insert(server.clone(), Instant::now() + RETRY_DOWN_SERVER_AFTER);
                Err(describe(server, &error))
            }
        }
    }
}

impl SharedStore for Memcached<'_> {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get_plain(key, false)?.map(|(value, _)| value))
    }

    fn get_with_ttl(&self, key: &str) -> Result<Option<(String, Option<u32>)>, StoreError> {
        self.get_plain(key, true)
    }

    fn set(&self, key: &str, value: &str, ttl: u32) -> Result<(), StoreError> {
        let command = MetaCommand::new(MetaOp::Set, key)
            .flag(format!("T{ttl}"))
            .flag("F0")
            .value(value);
        expect(self.execute(key, &command)?, ReturnCode::Hd, key)
    }

    fn add(&self, key: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
        // Mode E: store only if absent ("add").
        let command = MetaCommand::new(MetaOp::Set, key)
            .flag(format!("T{ttl}"))
            .flag("F0")
            .flag("ME")
            .value(value);
        Ok(self.execute(key, &command)?.rc() == ReturnCode::Hd)
    }

    fn replace_if(&self, key: &str, expected: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
        let response = self.execute(key, &MetaCommand::new(MetaOp::Get, key).flag("v").flag("c"))?;
        let cas = response.flags().find_map(|flag| flag.strip_prefix(b"c")).map(<[u8]>::to_vec);
        match (response.value(), cas) {
            (Some(current), Some(cas)) if current == expected.as_bytes() => {
                let cas = String::from_utf8_lossy(&cas).into_owned();
                let command = MetaCommand::new(MetaOp::Set, key)
                    .flag(format!("T{ttl}"))
                    .flag("F0")
                    .flag(format!("C{cas}"))
                    .value(value);
                Ok(self.execute(key, &command)?.rc() == ReturnCode::Hd)
            }
            _ => Ok(false),
        }
    }

    fn delete_if(&self, key: &str, expected: &str) -> Result<(), StoreError> {
        // Read the value with its CAS, then delete only that version: a
        // value someone else stored meanwhile is left alone.
        let response = self.execute(key, &MetaCommand::new(MetaOp::Get, key).flag("v").flag("c"))?;
        let cas = response.flags().find_map(|flag| flag.strip_prefix(b"c")).map(<[u8]>::to_vec);
        match (response.value(), cas) {
            (Some(value), Some(cas)) if value == expected.as_bytes() => {
                let cas = String::from_utf8_lossy(&cas).into_owned();
                self.execute(key, &MetaCommand::new(MetaOp::Delete, key).flag(format!("C{cas}")))?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Memcached<'_> {
    /// A plain-string value and, if asked, the seconds memcached will keep
    /// it (its `t` flag: -1 for no expiry).
    fn get_plain(&self, key: &str, with_ttl: bool) -> Result<Option<(String, Option<u32>)>, StoreError> {
        let mut command = MetaCommand::new(MetaOp::Get, key).flag("v").flag("f");
        if with_ttl {
            command = command.flag("t");
        }
        let response = self.execute(key, &command)?;
        if response.rc() != ReturnCode::Va {
            return Ok(None);
        }
        // Only plain strings (client flags 0): a serialized or compressed
        // PHP value is nothing this extension wrote or can use.
        if !response.flags().any(|flag| flag == b"f0") {
            return Ok(None);
        }
        let kept_for = response
            .flags()
            .find_map(|flag| flag.strip_prefix(b"t"))
            .and_then(|t| std::str::from_utf8(t).ok()?.parse::<u32>().ok());
        Ok(response
            .into_value()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(|value| (value, kept_for)))
    }
}

fn expect(response: MetaResponse, wanted: ReturnCode, key: &str) -> Result<(), StoreError> {
    if response.rc() == wanted {
        Ok(())
    } else {
        Err(StoreError::new(StoreFault::Full, format!(
            "memcached answered {:?} to a command on key {key}",
            response.rc()
        )))
    }
}

/// A connection made within `timeout`, whose every exchange is bounded by
/// `timeout` too, so a dead or blackholed server costs one short wait.
fn connect(server: &ServerAddr, timeout: Duration) -> Result<MetaConnection, memcache::exp::Error> {
    let mut last_error = std::io::Error::new(std::io::ErrorKind::NotFound, "the host name resolves to no address");
    for address in (server.host.as_str(), server.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                let mut connection = MetaConnection::from_stream(stream);
                connection.set_io_timeout(Some(timeout));
                return Ok(connection);
            }
            Err(error) => last_error = error,
        }
    }
    Err(memcache::exp::Error::Io(last_error))
}

fn is_timeout(error: &memcache::exp::Error) -> bool {
    use memcache::exp::Error;
    match error {
        Error::Timeout { .. } => true,
        Error::Ambiguous { source, .. } => is_timeout(source),
        Error::Io(io) => matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock),
        _ => false,
    }
}

fn describe(server: &ServerAddr, error: &memcache::exp::Error) -> StoreError {
    let hint = match error {
        memcache::exp::Error::Rejected(_) => " (memcached 1.6 or newer is needed: the extension speaks its meta protocol)",
        _ => " (check weixin.memcache_servers and weixin.memcache_timeout)",
    };
    StoreError::new(StoreFault::Unreachable, format!("memcached at {server} failed: {error}{hint}"))
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
    fn only_token_shaped_strings_count() {
        assert!(is_token("TOKEN_abc-1"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token(&"x".repeat(MAX_TOKEN_LEN + 1)));
    }
}
