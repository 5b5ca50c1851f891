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
//! other's replies. At most [`MAX_SERVERS`] servers are kept per process,
//! those used last (`recent`). A server that fails is skipped for a moment:
//! a dead or blackholed memcached costs one short timeout now and then, not
//! one per lookup.

mod classic;
mod connection;
mod meta;
mod placement;
mod recent;
mod ring;
mod transport;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use crate::config::{MemcacheDistribution, MemcacheProtocol, ServerAddr};
use crate::process::{Inherited, PerProcess};
use crate::quota::DailyCounter;
use crate::token::{Age, Keys, SharedStore, Sighting, StoreError, StoreFault};
pub use connection::Protocol;
use connection::{Connection, Failure, Mode, Reply, Request, Status};
use placement::Placements;
use recent::Recent;

/// How long a failed server is skipped before it is tried again.
const RETRY_DOWN_SERVER_AFTER: Duration = Duration::from_secs(2);

/// Servers a process keeps (their connection, the protocol they answered
/// in, whether they failed), those used last. Real pools have a handful of
/// servers; past this, `ini_set()` is naming one server in ever new ways (a
/// host name and its addresses, ports in front of it) and each would keep a
/// socket open for the life of the worker. One dropped costs a reconnection
/// (and a meta no-op) when it is used again.
pub const MAX_SERVERS: usize = 32;

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
    servers: Recent<ServerAddr, Server, MAX_SERVERS>,
}

impl ProcessConnections {
    /// What is known of `address`, used now; a server new to the process
    /// comes in, and past [`MAX_SERVERS`] the one used longest ago goes out,
    /// returned to be dropped (its socket closed) outside the lock.
    fn server(&mut self, address: &ServerAddr) -> (&mut Server, Option<Server>) {
        self.servers.get_or_insert_with(address, || Server { idle: None, down_until: None, protocol: None })
    }
}

/// Held only to take a connection out or put it back, never during I/O:
/// threads of a ZTS build do not queue behind one another's exchanges.
/// A child of fork() starts without any: its copies of the parent's sockets
/// are closed (using them would mix the two processes' replies).
static CONNECTIONS: PerProcess<ProcessConnections> = PerProcess::new(Inherited::Dropped);

/// The home server, taken out for one command.
struct CheckedOut<'s> {
    address: &'s ServerAddr,
    idle: Option<Connection>,
    /// Set, or learned; `None`: to be asked.
    protocol: Option<Protocol>,
}

/// What a command's outcome says about its server.
enum Health {
    Up,
    Down,
    /// Nothing known (a connection broke right after a request that must
    /// not be re-sent): the next command finds out.
    Unknown,
}

impl Memcached<'_> {
    /// The protocol set, if one is.
    fn pinned(&self) -> Option<Protocol> {
        match self.protocol {
            MemcacheProtocol::Meta => Some(Protocol::Meta),
            MemcacheProtocol::Text => Some(Protocol::Classic),
            MemcacheProtocol::Auto => None,
        }
    }

    /// Asks the home server, by a meta no-op (`mn`), which protocol it
    /// speaks. memcached 1.6+ answers `MN`; older servers and most proxies
    /// answer `ERROR` or `CLIENT_ERROR` (the connection stays usable);
    /// twemproxy closes the connection. Only silence is a failure.
    fn negotiate(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + self.timeout;
        let CheckedOut { address, idle, .. } = self.check_out()?;
        let mut connection = match idle.map_or_else(|| Connection::open(address, deadline), Ok) {
            Ok(connection) => connection,
            Err(failure) => return Err(self.give_up(address, None, &Request::Probe, failure)),
        };
        let (protocol, keep) = match connection.exchange(&Request::Probe, Protocol::Meta, deadline) {
            Ok(reply) if reply.status == Status::Done => (Protocol::Meta, true),
            // It answered, but not in meta: not a failure of the server.
            Ok(_) | Err(Failure::Rejected(_) | Failure::ServerError(_)) => (Protocol::Classic, true),
            // Hung up on the unknown command (twemproxy), or answered
            // something that is not meta. A reset is a failure, not an
            // answer: a 1.6 server restarting must not pass for an old one.
            Err(Failure::Broken { error, .. })
                if matches!(error.kind(), ErrorKind::UnexpectedEof | ErrorKind::InvalidData) =>
            {
                (Protocol::Classic, false)
            }
            Err(failure) => return Err(self.give_up(address, Some(connection), &Request::Probe, failure)),
        };
        self.check_in(address, keep.then_some(connection), Health::Up);
        let mut connections = CONNECTIONS.lock();
        if let Some(server) = connections.servers.peek_mut(address) {
            server.protocol = Some(protocol);
        }
        Ok(())
    }

    /// Runs on the home server the command `build` makes for its protocol
    /// (asking the server which, the first time). A kept connection is
    /// reused unless the command must not be sent twice and a peek finds
    /// the connection closed or dirty; a kept connection found dead during
    /// a command that may be re-sent is replaced once. A connection that
    /// failed is closed, so no later command reads a reply left on it.
    fn execute<'r>(&self, build: impl FnOnce(Protocol) -> Request<'r>) -> Result<(Reply, Protocol), StoreError> {
        let mut checked_out = self.check_out()?;
        let protocol = match checked_out.protocol {
            Some(protocol) => protocol,
            None => {
                self.check_in(checked_out.address, checked_out.idle.take(), Health::Unknown);
                self.negotiate()?;
                checked_out = self.check_out()?;
                checked_out.protocol.unwrap_or(Protocol::Classic)
            }
        };
        let CheckedOut { address, idle, .. } = checked_out;
        let request = build(protocol);
        let deadline = Instant::now() + self.timeout;
        let resendable = request.may_resend();
        let kept = idle.filter(|connection| resendable || connection.is_idle());
        let reused = kept.is_some();
        let mut connection = match kept.map_or_else(|| Connection::open(address, deadline), Ok) {
            Ok(connection) => connection,
            Err(failure) => return Err(self.give_up(address, None, &request, failure)),
        };
        let mut outcome = connection.exchange(&request, protocol, deadline);
        // Died while kept (memcached restarted, an idle timeout): one fresh
        // connection before the server counts as down. Not after a timeout,
        // which would only double the wait.
        if reused && matches!(&outcome, Err(Failure::Broken { sent, .. }) if resendable || !sent) {
            connection = match Connection::open(address, deadline) {
                Ok(connection) => connection,
                Err(failure) => return Err(self.give_up(address, None, &request, failure)),
            };
            outcome = connection.exchange(&request, protocol, deadline);
        }
        match outcome {
            Ok(reply) => {
                self.check_in(address, Some(connection), Health::Up);
                Ok((reply, protocol))
            }
            Err(failure) => Err(self.give_up(address, Some(connection), &request, failure)),
        }
    }

    /// The home server, its idle connection (taken out of the map) and its
    /// protocol if known: one lock, one lookup.
    fn check_out(&self) -> Result<CheckedOut<'_>, StoreError> {
        let mut connections = CONNECTIONS.lock();
        let index = connections.placements.server_for(self.distribution, self.servers, self.home);
        let address = &self.servers[index];
        let (server, evicted) = connections.server(address);
        let outcome = if server.down_until.is_some_and(|until| Instant::now() < until) {
            Err(StoreError::new(
                StoreFault::Unreachable,
                format!(
                    "memcached at {address} failed moments ago and is retried shortly (check weixin.memcache_servers)"
                ),
            ))
        } else {
            Ok(CheckedOut { address, idle: server.idle.take(), protocol: self.pinned().or(server.protocol) })
        };
        drop(connections);
        // The server used longest ago, if it made room: its socket closes
        // outside the lock.
        drop(evicted);
        outcome
    }

    /// Puts a connection back (if still in step with the server) and
    /// records what the command said about the server.
    fn check_in(&self, address: &ServerAddr, connection: Option<Connection>, health: Health) {
        let connection = connection.filter(Connection::in_step);
        let mut guard = CONNECTIONS.lock();
        // Gone (dropped as the least recently used meanwhile): so is the connection.
        let Some(server) = guard.servers.peek_mut(address) else {
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

    /// The plain-string value (client flags 0) of `key`: a serialized or
    /// compressed PHP value is nothing this extension wrote or can use.
    fn get_plain(&self, key: &str) -> Result<Option<String>, StoreError> {
        let keys = [key];
        let (mut reply, _) = self.execute(|_| Request::Get { keys: &keys, ttl: false, cas: false })?;
        Ok(plain(&mut reply, key).map(|(value, _)| value))
    }

    /// Adds `delta` to the number under `key`, or creates it as `initial`
    /// kept `ttl` seconds: the new value. Never sent twice (a lost reply is
    /// `StoreFault::Ambiguous`). Meta: one `ma`. Classic: `incr`, and when
    /// the key is missing `add`, and when someone else added it meanwhile
    /// `incr` again (the first one counted nothing).
    pub fn increment(&self, key: &str, delta: u64, initial: u64, ttl: u32) -> Result<u64, StoreError> {
        let incr = Request::Increment { key, delta, create: Some((initial, ttl)) };
        let (mut reply, protocol) = self.execute(|_| incr)?;
        if protocol == Protocol::Classic && reply.status == Status::NotFound {
            let value = initial.to_string();
            let add = Request::Store { key, value: &value, ttl, mode: Mode::Add };
            match self.execute(|_| add)?.0.status {
                Status::Done => return Ok(initial),
                Status::NotStored => reply = self.execute(|_| incr)?.0,
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
        reply.first().and_then(|item| number(&item.value)).ok_or_else(|| not_a_number(None, key))
    }

    /// The CAS of `key` if it holds `expected`.
    fn cas_if(&self, key: &str, expected: &str) -> Result<Option<u64>, StoreError> {
        let keys = [key];
        let (reply, _) = self.execute(|_| Request::Get { keys: &keys, ttl: false, cas: true })?;
        Ok(reply.item(key).filter(|item| item.value == expected.as_bytes()).and_then(|item| item.cas))
    }

    fn store(&self, key: &str, value: &str, ttl: u32, mode: Mode) -> Result<Status, StoreError> {
        Ok(self.execute(|_| Request::Store { key, value, ttl, mode })?.0.status)
    }
}

/// The plain-string value of `key` in `reply`, if any, and the seconds
/// memcached still keeps it if the reply says (-1, no expiry: `None`).
fn plain(reply: &mut Reply, key: &str) -> Option<(String, Option<u32>)> {
    let item = reply.take(key).filter(|item| item.client_flags == Some(0))?;
    let kept_for = item.ttl.and_then(|t| u32::try_from(t).ok());
    Some((String::from_utf8(item.value).ok()?, kept_for))
}

impl SharedStore for Memcached<'_> {
    fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.get_plain(key)
    }

    /// Meta: the token and how long memcached keeps it (`mg … t`), then the
    /// record unless the token is known. Classic: the token and the record
    /// in one `get`.
    fn read_token(&self, keys: &Keys, known: Option<&str>) -> Result<Option<Sighting>, StoreError> {
        let both = [keys.token.as_str(), keys.meta.as_str()];
        let (mut reply, protocol) = self.execute(|protocol| match protocol {
            Protocol::Meta => Request::Get { keys: &both[..1], ttl: true, cas: false },
            Protocol::Classic => Request::Get { keys: &both, ttl: false, cas: false },
        })?;
        let Some((token, kept_for)) = plain(&mut reply, &keys.token) else {
            return Ok(None);
        };
        if protocol == Protocol::Classic {
            let record = plain(&mut reply, &keys.meta).map(|(record, _)| record);
            return Ok(Some(Sighting { token, record, age: Age::Untold }));
        }
        let record = if known == Some(token.as_str()) { None } else { self.get_plain(&keys.meta)? };
        Ok(Some(Sighting { token, record, age: Age::KeptFor(kept_for) }))
    }

    fn set(&self, key: &str, value: &str, ttl: u32) -> Result<(), StoreError> {
        match self.store(key, value, ttl, Mode::Set)? {
            Status::Done => Ok(()),
            status => Err(StoreError::new(
                StoreFault::Full,
                format!("memcached did not store {key} (it answered {status:?})"),
            )),
        }
    }

    fn add(&self, key: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
        Ok(self.store(key, value, ttl, Mode::Add)? == Status::Done)
    }

    fn replace_if(&self, key: &str, expected: &str, value: &str, ttl: u32) -> Result<bool, StoreError> {
        let Some(cas) = self.cas_if(key, expected)? else {
            return Ok(false);
        };
        Ok(self.store(key, value, ttl, Mode::Cas(cas))? == Status::Done)
    }

    fn delete_if(&self, key: &str, expected: &str) -> Result<(), StoreError> {
        // Only that version: a value someone else stored meanwhile stays.
        if let Some(cas) = self.cas_if(key, expected)? {
            self.execute(|_| Request::DeleteIf { key, cas })?;
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
