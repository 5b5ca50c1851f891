//! The shared store: memcached at `weixin.memcache_servers`, in the format
//! legacy PHP code uses (the plain token string, client flags 0), so that old
//! and new servers share one token.
//!
//! Each server is spoken to in the protocol it understands
//! (`weixin.memcache_protocol`): memcached 1.6+ in its meta protocol, which
//! tells how long an item is still kept (`meta`); memcached 1.4/1.5,
//! twemproxy, mcrouter and managed services in the classic text commands
//! they all share (`classic`). With `auto`, a server is asked once which it
//! is, by a meta no-op on its first connection: one that answers it speaks
//! meta; one that refuses it (`ERROR`) or hangs up (twemproxy) speaks
//! classic. That is no failure and raises no warning. What a process
//! learned is forgotten when the server fails (it may come back upgraded).
//!
//! Every key of a token goes to the server the legacy client picks for the
//! plain key (`placement`: PECL memcache's ring or PECL memcached's modula,
//! `weixin.memcache_distribution`): the token, its record and its lock never
//! split across servers. One blocking connection per server per process
//! (`connection`), no threads, no pool; made lazily, and made anew in a
//! process that finds it was forked, so parent and child never read each
//! other's replies. A server that fails is skipped for a moment: a dead or
//! blackholed memcached costs one short timeout now and then, not one per
//! lookup.

mod classic;
mod connection;
mod meta;
mod placement;
mod ring;
mod transport;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::{MemcacheDistribution, MemcacheProtocol, ServerAddr};
use crate::process::{Inherited, PerProcess};
use crate::quota::DailyCounter;
use crate::token::{Age, Keys, SharedStore, Sighting, StoreError, StoreFault};
pub use connection::Protocol;
use connection::{Connection, Failure, Mode, Reply, Request, Status};
use placement::Placements;

/// How long a failed server is skipped before it is tried again.
const RETRY_DOWN_SERVER_AFTER: Duration = Duration::from_secs(2);

/// memcached at the configured servers, through this process's connections.
pub struct Memcached<'a> {
    pub servers: &'a [ServerAddr],
    /// The plain token key: every command, whatever its key, goes to the
    /// server this one maps to (where the legacy client puts it).
    pub home: &'a str,
    /// For a whole command: connecting, sending, the reply.
    pub timeout: Duration,
    /// `weixin.memcache_protocol`.
    pub protocol: MemcacheProtocol,
    /// `weixin.memcache_distribution`.
    pub distribution: MemcacheDistribution,
}

/// What this process knows of one server.
struct Server {
    /// The connection, when no command is using it.
    idle: Option<Connection>,
    down_until: Option<Instant>,
    /// The protocol it answered in (`auto`), until it fails.
    protocol: Option<Protocol>,
}

/// This process's connections.
#[derive(Default)]
struct ProcessConnections {
    placements: Placements,
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
    /// The protocol of the home server: the one set, or the one it answered
    /// in, or (`auto`, not known yet) the one it answers in now.
    fn protocol(&self) -> Result<Protocol, StoreError> {
        match self.protocol {
            MemcacheProtocol::Meta => Ok(Protocol::Meta),
            MemcacheProtocol::Text => Ok(Protocol::Classic),
            MemcacheProtocol::Auto => {
                let (address, known) = {
                    let mut connections = CONNECTIONS.lock();
                    let index = home_index(&mut connections, self.distribution, self.servers, self.home);
                    let address = &self.servers[index];
                    (address, connections.servers.get(address).and_then(|server| server.protocol))
                };
                match known {
                    Some(protocol) => Ok(protocol),
                    None => self.negotiate(address),
                }
            }
        }
    }

    /// Asks the home server, by a meta no-op (`mn`), which protocol it
    /// speaks. memcached 1.6+ answers `MN`; older servers and most proxies
    /// answer `ERROR` or `CLIENT_ERROR` (the connection stays usable);
    /// twemproxy closes the connection. Only silence is a failure.
    fn negotiate(&self, expected: &ServerAddr) -> Result<Protocol, StoreError> {
        let deadline = Instant::now() + self.timeout;
        let (address, kept) = self.check_out()?;
        debug_assert_eq!(address, expected);
        let mut connection = match kept.map_or_else(|| Connection::open(address, deadline), Ok) {
            Ok(connection) => connection,
            Err(failure) => return Err(self.give_up(address, None, &Request::Probe, failure)),
        };
        let (protocol, keep) = match connection.exchange(&Request::Probe, Protocol::Meta, deadline) {
            Ok(reply) if reply.status == Status::Done => (Protocol::Meta, true),
            // It answered, but not in meta: not a failure of the server.
            Ok(_) | Err(Failure::Rejected(_) | Failure::ServerError(_)) => (Protocol::Classic, true),
            // Hung up on the unknown command, or answered nonsense.
            Err(Failure::Broken { .. }) => (Protocol::Classic, false),
            Err(failure) => return Err(self.give_up(address, Some(connection), &Request::Probe, failure)),
        };
        self.check_in(address, keep.then_some(connection), Health::Up);
        let mut connections = CONNECTIONS.lock();
        if let Some(server) = connections.servers.get_mut(address) {
            server.protocol = Some(protocol);
        }
        Ok(protocol)
    }

    /// Runs one command on the home server. A kept connection is reused
    /// unless the command must not be sent twice and a peek finds the
    /// connection closed or dirty; a kept connection found dead during a
    /// command that may be re-sent is replaced once. A connection that
    /// failed is closed, so no later command reads a reply left on it.
    fn execute(&self, request: &Request, protocol: Protocol) -> Result<Reply, StoreError> {
        let deadline = Instant::now() + self.timeout;
        let (address, kept) = self.check_out()?;
        let resendable = request.may_resend();
        let kept = kept.filter(|connection| resendable || connection.is_idle());
        let reused = kept.is_some();
        let mut connection = match kept.map_or_else(|| Connection::open(address, deadline), Ok) {
            Ok(connection) => connection,
            Err(failure) => return Err(self.give_up(address, None, request, failure)),
        };
        let mut outcome = connection.exchange(request, protocol, deadline);
        // Died while kept (memcached restarted, an idle timeout): one fresh
        // connection before the server counts as down. Not after a timeout,
        // which would only double the wait.
        if reused && matches!(&outcome, Err(Failure::Broken { sent, .. }) if resendable || !sent) {
            connection = match Connection::open(address, deadline) {
                Ok(connection) => connection,
                Err(failure) => return Err(self.give_up(address, None, request, failure)),
            };
            outcome = connection.exchange(request, protocol, deadline);
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
        let index = home_index(&mut connections, self.distribution, self.servers, self.home);
        let address = &self.servers[index];
        let server = connections.servers.get_mut(address).expect("home_index keeps every home server");
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
            Health::Down => {
                server.down_until = Some(Instant::now() + RETRY_DOWN_SERVER_AFTER);
                // It may come back as another version, or another proxy.
                server.protocol = None;
            }
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
                    Failure::Rejected(_) if self.protocol == MemcacheProtocol::Meta => {
                        "weixin.memcache_protocol=meta needs memcached 1.6 or newer: set it to auto or text"
                    }
                    Failure::Rejected(_) => "the server refused a command every memcached takes",
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

    /// The plain-string values (client flags 0) of `keys` that exist:
    /// a serialized or compressed PHP value is nothing this extension wrote
    /// or can use.
    fn get_plain(&self, keys: &[&str], protocol: Protocol) -> Result<Reply, StoreError> {
        let mut reply = self.execute(&Request::Get { keys, ttl: false, cas: false }, protocol)?;
        reply.items.retain(|item| item.client_flags == Some(0));
        Ok(reply)
    }

    /// Adds `delta` to the number under `key`, or creates it as `initial`
    /// kept `ttl` seconds: the new value. Never sent twice (a lost reply is
    /// `StoreFault::Ambiguous`). Meta: one `ma`. Classic: `incr`, and when
    /// the key is missing `add`, and when someone else added it meanwhile
    /// `incr` again (the first one counted nothing).
    pub fn increment(&self, key: &str, delta: u64, initial: u64, ttl: u32) -> Result<u64, StoreError> {
        let protocol = self.protocol()?;
        let incr = Request::Increment { key, delta, create: Some((initial, ttl)) };
        let mut reply = self.execute(&incr, protocol)?;
        if protocol == Protocol::Classic && reply.status == Status::NotFound {
            let value = initial.to_string();
            let add = Request::Store { key, value: &value, ttl, mode: Mode::Add };
            match self.execute(&add, protocol)?.status {
                Status::Done => return Ok(initial),
                Status::NotStored => reply = self.execute(&incr, protocol)?,
                status => reply = Reply::status(status),
            }
        }
        if reply.status != Status::Value {
            // Not created after a miss (memcached stores nothing).
            return Err(StoreError::new(
                StoreFault::Full,
                format!("memcached did not count {key} (it answered {:?})", reply.status),
            ));
        }
        reply.items.first().and_then(|item| number(&item.value)).ok_or_else(|| not_a_number(None, key))
    }

    /// The CAS of `key` if it holds `expected`.
    fn cas_if(&self, key: &str, expected: &str, protocol: Protocol) -> Result<Option<u64>, StoreError> {
        let reply = self.execute(&Request::Get { keys: &[key], ttl: false, cas: true }, protocol)?;
        Ok(reply.item(key).filter(|item| item.value == expected.as_bytes()).and_then(|item| item.cas))
    }
}

/// The index of the server that holds `home`, that server known to the map.
fn home_index(
    connections: &mut ProcessConnections,
    distribution: MemcacheDistribution,
    servers: &[ServerAddr],
    home: &str,
) -> usize {
    let index = connections.placements.server_for(distribution, servers, home);
    let address = &servers[index];
    if !connections.servers.contains_key(address) {
        connections.servers.insert(address.clone(), Server { idle: None, down_until: None, protocol: None });
    }
    index
}

fn utf8(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).ok().map(str::to_string)
}

impl SharedStore for Memcached<'_> {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let reply = self.get_plain(&[key], self.protocol()?)?;
        Ok(reply.item(key).and_then(|item| utf8(&item.value)))
    }

    /// Meta: the token and how long memcached keeps it (`mg … t`), then the
    /// record unless the token is known. Classic: the token and the record
    /// in one `get`.
    fn read_token(&self, keys: &Keys, known: Option<&str>) -> Result<Option<Sighting>, StoreError> {
        let protocol = self.protocol()?;
        if protocol == Protocol::Classic {
            let reply = self.get_plain(&[&keys.token, &keys.meta], protocol)?;
            let Some(token) = reply.item(&keys.token).and_then(|item| utf8(&item.value)) else {
                return Ok(None);
            };
            let record = reply.item(&keys.meta).and_then(|item| utf8(&item.value));
            return Ok(Some(Sighting { token, record, age: Age::Untold }));
        }
        let reply = self.execute(&Request::Get { keys: &[&keys.token], ttl: true, cas: false }, protocol)?;
        let Some(item) = reply.items.first().filter(|item| item.client_flags == Some(0)) else {
            return Ok(None);
        };
        let Some(token) = utf8(&item.value) else {
            return Ok(None);
        };
        // -1, no expiry, comes back as `None`.
        let kept_for = item.ttl.and_then(|t| u32::try_from(t).ok());
        let record = if known == Some(token.as_str()) { None } else { self.get(&keys.meta)? };
        Ok(Some(Sighting { token, record, age: Age::KeptFor(kept_for) }))
    }

    fn set(&self, key: &str, value: &str, ttl: u32) -> Result<(), StoreError> {
        let reply = self.execute(&Request::Store { key, value, ttl, mode: Mode::Set }, self.protocol()?)?;
        if reply.status == Status::Done {
            return Ok(());
        }
        Err(StoreError::new(
            StoreFault::Full,
            format!("memcached did not store {key} (it answered {:?})", reply.status),
        ))
    }

    fn add(&self, key: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
        let reply = self.execute(&Request::Store { key, value, ttl, mode: Mode::Add }, self.protocol()?)?;
        Ok(reply.status == Status::Done)
    }

    fn replace_if(&self, key: &str, expected: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
        let protocol = self.protocol()?;
        let Some(cas) = self.cas_if(key, expected, protocol)? else {
            return Ok(false);
        };
        let reply = self.execute(&Request::Store { key, value, ttl, mode: Mode::Cas(cas) }, protocol)?;
        Ok(reply.status == Status::Done)
    }

    fn delete_if(&self, key: &str, expected: &str) -> Result<(), StoreError> {
        // Only that version: a value someone else stored meanwhile stays.
        let protocol = self.protocol()?;
        if let Some(cas) = self.cas_if(key, expected, protocol)? {
            self.execute(&Request::DeleteIf { key, cas }, protocol)?;
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
    pub protocol: MemcacheProtocol,
    pub distribution: MemcacheDistribution,
}

impl Counters<'_> {
    fn on_home_of<'k>(&'k self, key: &'k str) -> Memcached<'k> {
        Memcached {
            servers: self.servers,
            home: key,
            timeout: self.timeout,
            protocol: self.protocol,
            distribution: self.distribution,
        }
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
