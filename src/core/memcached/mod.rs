//! The shared store: memcached at `weixin.memcache_servers`, in the format
//! legacy PHP code uses (the plain token string, client flags 0), so that old
//! and new servers share one token.
//!
//! Every key of a token goes to the server the PECL memcache client picks
//! for the plain key (`ring`): the token, its record and its lock never split
//! across servers. One blocking connection per server per process
//! (`connection`), no threads, no pool; made lazily, and made anew in a
//! process that finds it was forked, so parent and child never read each
//! other's replies. A server that fails is skipped for a moment: a dead or
//! blackholed memcached costs one short timeout now and then, not one per
//! lookup.

mod connection;
mod ring;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::ServerAddr;
use crate::process::{Inherited, PerProcess};
use crate::quota::DailyCounter;
use crate::token::{SharedStore, StoreError, StoreFault};
use connection::{Connection, Failure, Mode, Reply, Request, Status};
use ring::Ring;

/// How long a failed server is skipped before it is tried again.
const RETRY_DOWN_SERVER_AFTER: Duration = Duration::from_secs(2);

/// memcached at the configured servers, through this process's connections.
pub struct Memcached<'a> {
    pub servers: &'a [ServerAddr],
    /// The plain token key: every command, whatever its key, goes to the
    /// server this one maps to (where PECL memcache puts it).
    pub home: &'a str,
    /// For a whole command: connecting, sending, the reply.
    pub timeout: Duration,
}

/// What this process knows of one server.
struct Server {
    /// The connection, when no command is using it.
    idle: Option<Connection>,
    down_until: Option<Instant>,
}

/// This process's connections.
#[derive(Default)]
struct ProcessConnections {
    rings: HashMap<Vec<ServerAddr>, Ring>,
    servers: HashMap<ServerAddr, Server>,
}

/// Held only to take a connection out or put it back, never during I/O:
/// threads of a ZTS build do not queue behind one another's exchanges.
/// A child of fork() starts without any: its copies of the parent's sockets
/// are closed (using them would mix the two processes' replies).
static CONNECTIONS: PerProcess<ProcessConnections> = PerProcess::new(Inherited::Dropped);

/// What a command's outcome says about its server.
enum Health {
    Up,
    Down,
    /// Nothing known (a connection broke right after a request that must
    /// not be re-sent): the next command finds out.
    Unknown,
}

impl Memcached<'_> {
    /// Runs one command on the home server. A kept connection is reused
    /// unless the command must not be sent twice and a peek finds the
    /// connection closed or dirty; a kept connection found dead during a
    /// command that may be re-sent is replaced once. A connection that
    /// failed is closed, so no later command reads a reply left on it.
    fn execute(&self, request: &Request) -> Result<Reply, StoreError> {
        let deadline = Instant::now() + self.timeout;
        let (address, kept) = self.check_out()?;
        let resendable = request.may_resend();
        let kept = kept.filter(|connection| resendable || connection.is_idle());
        let reused = kept.is_some();
        let mut connection = match kept.map_or_else(|| Connection::open(&address.host, address.port, deadline), Ok) {
            Ok(connection) => connection,
            Err(failure) => return Err(self.give_up(address, None, request, failure)),
        };
        let mut outcome = connection.exchange(request, deadline);
        // Died while kept (memcached restarted, an idle timeout): one fresh
        // connection before the server counts as down. Not after a timeout,
        // which would only double the wait.
        if reused && matches!(&outcome, Err(Failure::Broken { sent, .. }) if resendable || !sent) {
            connection = match Connection::open(&address.host, address.port, deadline) {
                Ok(connection) => connection,
                Err(failure) => return Err(self.give_up(address, None, request, failure)),
            };
            outcome = connection.exchange(request, deadline);
        }
        match outcome {
            Ok(reply) => {
                self.check_in(address, Some(connection), Health::Up);
                Ok(reply)
            }
            Err(failure) => Err(self.give_up(address, Some(connection), request, failure)),
        }
    }

    /// The home server and its idle connection, taken out of the map.
    fn check_out(&self) -> Result<(&ServerAddr, Option<Connection>), StoreError> {
        let mut connections = CONNECTIONS.lock();
        let index = if self.servers.len() < 2 {
            0
        } else {
            let rings = &mut connections.rings;
            if !rings.contains_key(self.servers) {
                rings.insert(self.servers.to_vec(), Ring::new(self.servers));
            }
            rings[self.servers].server_for(self.home)
        };
        let address = &self.servers[index];
        if !connections.servers.contains_key(address) {
            connections.servers.insert(address.clone(), Server { idle: None, down_until: None });
        }
        let server = connections.servers.get_mut(address).expect("inserted above");
        if server.down_until.is_some_and(|until| Instant::now() < until) {
            return Err(StoreError::new(
                StoreFault::Unreachable,
                format!(
                    "memcached at {address} failed moments ago and is retried shortly (check weixin.memcache_servers)"
                ),
            ));
        }
        Ok((address, server.idle.take()))
    }

    /// Puts a connection back (if still in step with the server) and
    /// records what the command said about the server.
    fn check_in(&self, address: &ServerAddr, connection: Option<Connection>, health: Health) {
        let connection = connection.filter(Connection::in_step);
        let mut guard = CONNECTIONS.lock();
        let Some(server) = guard.servers.get_mut(address) else {
            return;
        };
        match health {
            Health::Up => server.down_until = None,
            Health::Down => server.down_until = Some(Instant::now() + RETRY_DOWN_SERVER_AFTER),
            Health::Unknown => {}
        }
        // Another thread may have put one back meanwhile: one is enough.
        let surplus = if server.idle.is_none() { std::mem::replace(&mut server.idle, connection) } else { connection };
        drop(guard);
        drop(surplus);
    }

    /// The error for a failed command, after recording it: `SERVER_ERROR`
    /// leaves the server up and the connection usable; a lost reply to a
    /// request that must not be re-sent is ambiguous; anything else marks
    /// the server down for a moment.
    fn give_up(
        &self,
        address: &ServerAddr,
        connection: Option<Connection>,
        request: &Request,
        failure: Failure,
    ) -> StoreError {
        let key = request.key();
        match failure {
            Failure::ServerError(message) => {
                self.check_in(address, connection, Health::Up);
                StoreError::new(
                    StoreFault::Full,
                    format!(
                        "memcached at {address} answered SERVER_ERROR {message} to a command on {key} \
                     (it is up but stores nothing: check its memory limit, memcached -m)"
                    ),
                )
            }
            Failure::NotANumber => {
                self.check_in(address, connection, Health::Up);
                not_a_number(Some(address), key)
            }
            failure if failure.lost_reply() && !request.may_resend() => {
                let timed_out = matches!(failure, Failure::TimedOut { .. });
                self.check_in(address, None, if timed_out { Health::Down } else { Health::Unknown });
                StoreError::new(
                    StoreFault::Ambiguous,
                    format!(
                        "memcached at {address} failed after a command on {key} was sent: {}; \
                     it may or may not have been applied, and is not sent again",
                        self.describe(&failure)
                    ),
                )
            }
            failure => {
                self.check_in(address, None, Health::Down);
                let hint = match failure {
                    Failure::Rejected(_) => "memcached 1.6 or newer is needed: the extension speaks its meta protocol",
                    _ => "check weixin.memcache_servers and weixin.memcache_timeout",
                };
                StoreError::new(
                    StoreFault::Unreachable,
                    format!("memcached at {address} failed: {} ({hint})", self.describe(&failure)),
                )
            }
        }
    }

    fn describe(&self, failure: &Failure) -> String {
        match failure {
            Failure::TimedOut { .. } => format!("timed out after {:?}", self.timeout),
            other => other.to_string(),
        }
    }

    /// A plain-string value and, if asked (`t`), the seconds memcached will
    /// keep it (-1, no expiry, comes back as `None`).
    fn get_plain(&self, key: &str, flags: &'static str) -> Result<Option<(String, Option<u32>)>, StoreError> {
        let reply = self.execute(&Request::Get { key, flags })?;
        // Only plain strings (client flags 0): a serialized or compressed
        // PHP value is nothing this extension wrote or can use.
        if reply.status != Status::Value || reply.client_flags != Some(0) {
            return Ok(None);
        }
        let kept_for = reply.ttl.and_then(|t| u32::try_from(t).ok());
        Ok(reply.value.and_then(|bytes| String::from_utf8(bytes).ok()).map(|value| (value, kept_for)))
    }

    /// Adds `delta` to the number under `key`, or creates it as `initial`
    /// kept `ttl` seconds: the new value. One `ma`, never sent twice (a lost
    /// reply is `StoreFault::Ambiguous`).
    pub fn increment(&self, key: &str, delta: u64, initial: u64, ttl: u32) -> Result<u64, StoreError> {
        let reply = self.execute(&Request::Increment { key, delta, initial, ttl })?;
        if reply.status != Status::Value {
            // NS: not created after a miss (memcached stores nothing).
            return Err(StoreError::new(
                StoreFault::Full,
                format!("memcached did not count {key} (it answered {:?})", reply.status),
            ));
        }
        reply.value.as_deref().and_then(number).ok_or_else(|| not_a_number(None, key))
    }

    /// The value and CAS of `key` if it holds `expected`.
    fn cas_if(&self, key: &str, expected: &str) -> Result<Option<u64>, StoreError> {
        let reply = self.execute(&Request::Get { key, flags: "v c" })?;
        Ok(reply.cas.filter(|_| reply.value.as_deref() == Some(expected.as_bytes())))
    }
}

impl SharedStore for Memcached<'_> {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get_plain(key, "v f")?.map(|(value, _)| value))
    }

    fn get_with_ttl(&self, key: &str) -> Result<Option<(String, Option<u32>)>, StoreError> {
        self.get_plain(key, "v f t")
    }

    fn set(&self, key: &str, value: &str, ttl: u32) -> Result<(), StoreError> {
        let reply = self.execute(&Request::Store { key, value, ttl, mode: Mode::Set })?;
        if reply.status == Status::Done {
            return Ok(());
        }
        Err(StoreError::new(
            StoreFault::Full,
            format!("memcached did not store {key} (it answered {:?})", reply.status),
        ))
    }

    fn add(&self, key: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
        let reply = self.execute(&Request::Store { key, value, ttl, mode: Mode::Add })?;
        Ok(reply.status == Status::Done)
    }

    fn replace_if(&self, key: &str, expected: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
        let Some(cas) = self.cas_if(key, expected)? else {
            return Ok(false);
        };
        let reply = self.execute(&Request::Store { key, value, ttl, mode: Mode::Cas(cas) })?;
        Ok(reply.status == Status::Done)
    }

    fn delete_if(&self, key: &str, expected: &str) -> Result<(), StoreError> {
        // Only that version: a value someone else stored meanwhile stays.
        if let Some(cas) = self.cas_if(key, expected)? {
            self.execute(&Request::DeleteIf { key, cas })?;
        }
        Ok(())
    }
}

/// memcached as the fleet's request counters (`quota`): each counter on
/// the server its own key maps to, whatever the token keys, so every
/// process counts together.
pub struct Counters<'a> {
    pub servers: &'a [ServerAddr],
    pub timeout: Duration,
}

impl Counters<'_> {
    fn on_home_of<'k>(&'k self, key: &'k str) -> Memcached<'k> {
        Memcached { servers: self.servers, home: key, timeout: self.timeout }
    }
}

impl DailyCounter for Counters<'_> {
    fn add_one(&self, key: &str, ttl: u32) -> Result<u64, StoreError> {
        self.on_home_of(key).increment(key, 1, 1, ttl)
    }

    fn read(&self, key: &str) -> Result<u64, StoreError> {
        let store = self.on_home_of(key);
        match store.get(key)? {
            None => Ok(0),
            Some(value) => number(value.as_bytes()).ok_or_else(|| not_a_number(None, key)),
        }
    }
}

/// A counter's value: decimal digits (memcached may pad them with spaces).
fn number(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

/// The error of a counter whose key holds something else: the server is
/// up, but nothing can be counted there until the key is deleted.
fn not_a_number(address: Option<&ServerAddr>, key: &str) -> StoreError {
    let server = address.map_or_else(|| "memcached".to_string(), |address| format!("memcached at {address}"));
    StoreError::new(
        StoreFault::Full,
        format!(
            "{server} holds something that is not a number under {key}: nothing is counted there until that \
         key is deleted"
        ),
    )
}

#[cfg(test)]
mod tests;
