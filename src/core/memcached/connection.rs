//! One connection to one memcached server: requests and replies in the
//! store's own terms, spoken in the protocol the server understands
//! (`meta` for memcached 1.6+, `classic` for everything else), over a
//! `transport` that bounds every exchange by a deadline.

use std::fmt;
use std::io;
use std::time::Instant;

use super::transport::Transport;
use super::{classic, meta};
use crate::config::ServerAddr;

/// Which commands a server understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// memcached 1.6+ and its built-in proxy: `mg ms md ma mn`. A reply
    /// says how long memcached still keeps an item.
    Meta,
    /// What every memcached, proxy and managed service shares: `get gets
    /// set add cas delete incr`.
    Classic,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Meta => "meta",
            Protocol::Classic => "classic",
        })
    }
}

/// What to store.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Set,
    /// Only if absent.
    Add,
    /// Only if the item still has this CAS value.
    Cas(u64),
}

#[derive(Clone, Copy, Debug)]
pub enum Request<'a> {
    /// The values of `keys` that exist, with their client flags; `ttl`: and
    /// the seconds memcached still keeps each (meta only); `cas`: and its
    /// CAS value.
    Get { keys: &'a [&'a str], ttl: bool, cas: bool },
    /// A value (client flags 0), kept `ttl` seconds.
    Store { key: &'a str, value: &'a str, ttl: u32, mode: Mode },
    /// Deletes `key` only if it still has this CAS value.
    DeleteIf { key: &'a str, cas: u64 },
    /// Adds `delta` to the number under `key`; with `create`, a missing key
    /// is created as `initial` (not `initial + delta`), kept `ttl` seconds
    /// (meta: one atomic round trip; classic has no such command and never
    /// asks for it). Not idempotent.
    Increment { key: &'a str, delta: u64, create: Option<(u64, u32)> },
    /// Asks which protocol the server speaks (`mn`, answered `MN` by
    /// memcached 1.6+): sent once per server on a fresh connection.
    Probe,
}

impl Request<'_> {
    /// The key it concerns, for messages.
    pub fn key(&self) -> &str {
        match *self {
            Request::Get { keys, .. } => keys.first().copied().unwrap_or_default(),
            Request::Store { key, .. } | Request::DeleteIf { key, .. } | Request::Increment { key, .. } => key,
            Request::Probe => "(none: a protocol probe)",
        }
    }

    /// Whether sending it twice does what sending it once does. An `add` or
    /// a compare-and-swap applied twice answers "not stored" the second
    /// time, as if it had lost; an increment applied twice counts twice:
    /// such a request is never sent again once any byte of it left. (A
    /// compare-and-delete sent twice deletes once; its answer is not used.)
    pub fn may_resend(&self) -> bool {
        !matches!(self, Request::Store { mode: Mode::Add | Mode::Cas(_), .. } | Request::Increment { .. })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Values follow (a get that found something; an increment's new value).
    Value,
    /// Done (stored, deleted; `MN` to a probe).
    Done,
    /// No such key (a get).
    Miss,
    /// Not stored (`add` of a present key; a create that memcached refused).
    NotStored,
    /// The CAS value no longer matches.
    Exists,
    /// Not found (compare-and-swap, delete, increment).
    NotFound,
}

/// One value a get found.
#[derive(Debug, PartialEq, Eq)]
pub struct Item {
    /// Classic replies name the key; meta replies are one per request.
    pub key: Option<String>,
    /// The client flags (PHP clients: 0 for a plain string).
    pub client_flags: Option<u32>,
    /// Seconds memcached still keeps the item, -1 for no expiry (meta only).
    pub ttl: Option<i64>,
    pub cas: Option<u64>,
    pub value: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: Status,
    /// What a get found (an increment's new value): the first item inline
    /// (most replies have one, and allocate nothing more), the others after.
    first: Option<Item>,
    more: Vec<Item>,
}

impl Reply {
    pub fn status(status: Status) -> Reply {
        Reply { status, first: None, more: Vec::new() }
    }

    pub fn with(status: Status, items: impl IntoIterator<Item = Item>) -> Reply {
        let mut items = items.into_iter();
        Reply { status, first: items.next(), more: items.collect() }
    }

    pub fn first(&self) -> Option<&Item> {
        self.first.as_ref()
    }

    pub fn first_mut(&mut self) -> Option<&mut Item> {
        self.first.as_mut()
    }

    /// The item of `key` (meta replies: the only one).
    pub fn item(&self, key: &str) -> Option<&Item> {
        self.first.iter().chain(&self.more).find(|item| is_of(item, key))
    }

    /// The item of `key`, taken out of the reply (its value is not copied).
    pub fn take(&mut self, key: &str) -> Option<Item> {
        if self.first.as_ref().is_some_and(|item| is_of(item, key)) {
            return self.first.take();
        }
        let at = self.more.iter().position(|item| is_of(item, key))?;
        Some(self.more.swap_remove(at))
    }
}

fn is_of(item: &Item, key: &str) -> bool {
    item.key.as_deref().is_none_or(|k| k == key)
}

#[derive(Debug)]
pub enum Failure {
    /// No connection could be made.
    Connect(io::Error),
    /// The deadline passed before the reply was whole.
    TimedOut { sent: bool },
    /// Closed, reset, or a reply that is not memcached's.
    Broken { error: io::Error, sent: bool },
    /// `SERVER_ERROR ...` (out of memory, too large), read whole: the server
    /// is up and the connection still in step.
    ServerError(String),
    /// `CLIENT_ERROR ...` or `ERROR`: the server does not take the command.
    Rejected(String),
    /// An increment found something that is not a number under its key.
    /// Read whole: the server is up and the connection still in step.
    NotANumber,
}

impl Failure {
    /// Whether the request may have reached the server and its reply was lost.
    pub fn lost_reply(&self) -> bool {
        matches!(self, Failure::TimedOut { sent: true } | Failure::Broken { sent: true, .. })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect(error) => write!(f, "cannot connect: {error}"),
            Failure::TimedOut { .. } => f.write_str("timed out"),
            Failure::Broken { error, .. } => write!(f, "{error}"),
            Failure::ServerError(message) => write!(f, "SERVER_ERROR {message}"),
            Failure::Rejected(line) => write!(f, "it answered '{line}'"),
            Failure::NotANumber => f.write_str("the value is not a number"),
        }
    }
}

/// How memcached refuses to increment a value that is not a number (both
/// protocols).
pub const NOT_A_NUMBER: &[u8] = b"cannot increment or decrement non-numeric value";

/// The failure of a reply line that is an error in either protocol
/// (`SERVER_ERROR`, `CLIENT_ERROR`, `ERROR`), if it is one.
pub fn error_line(line: &[u8]) -> Option<Failure> {
    let first = line.split(|&b| b == b' ').next().unwrap_or_default();
    match first {
        b"SERVER_ERROR" => {
            let message = line.strip_prefix(b"SERVER_ERROR").unwrap_or_default().trim_ascii();
            Some(Failure::ServerError(printable(message)))
        }
        b"CLIENT_ERROR" if line.trim_ascii_end().ends_with(NOT_A_NUMBER) => Some(Failure::NotANumber),
        b"CLIENT_ERROR" | b"ERROR" => Some(Failure::Rejected(printable(line))),
        _ => None,
    }
}

/// Server text for a message: at most 100 bytes, lossy.
pub fn printable(text: &[u8]) -> String {
    String::from_utf8_lossy(&text[..text.len().min(100)]).into_owned()
}

pub fn number<T: std::str::FromStr>(digits: &[u8]) -> Option<T> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

pub struct Connection {
    transport: Transport,
}

impl Connection {
    pub fn open(server: &ServerAddr, deadline: Instant) -> Result<Connection, Failure> {
        Ok(Connection { transport: Transport::open(server, deadline)? })
    }

    /// Sends `request` in `protocol` and reads its reply, all by `deadline`.
    pub fn exchange(&mut self, request: &Request, protocol: Protocol, deadline: Instant) -> Result<Reply, Failure> {
        let out = &mut self.transport.out;
        out.clear();
        match protocol {
            Protocol::Meta => meta::encode(request, out),
            Protocol::Classic => classic::encode(request, out),
        }
        self.transport.send(deadline)?;
        let reply = match protocol {
            Protocol::Meta => meta::receive(&mut self.transport, deadline),
            Protocol::Classic => classic::receive(request, &mut self.transport, deadline),
        };
        self.transport.reset();
        reply
    }

    /// Whether the connection can carry another exchange: everything it
    /// received was one reply.
    pub fn in_step(&self) -> bool {
        self.transport.in_step()
    }

    /// See `Transport::is_idle`.
    pub fn is_idle(&self) -> bool {
        self.transport.is_idle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_that_change_state_conditionally_are_never_resent() {
        let store = |mode| Request::Store { key: "k:lock", value: "id 1", ttl: 7, mode };
        assert!(Request::Get { keys: &["k"], ttl: false, cas: false }.may_resend());
        assert!(store(Mode::Set).may_resend());
        assert!(!store(Mode::Add).may_resend());
        assert!(!store(Mode::Cas(1)).may_resend());
        assert!(Request::DeleteIf { key: "k", cas: 1 }.may_resend());
        assert!(
            !Request::Increment { key: "k", delta: 1, create: None }.may_resend(),
            "applied twice, it counts twice"
        );
    }

    #[test]
    fn error_lines_of_either_protocol_are_failures() {
        match error_line(b"SERVER_ERROR out of memory storing object") {
            Some(Failure::ServerError(message)) => assert_eq!(message, "out of memory storing object"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(error_line(b"ERROR"), Some(Failure::Rejected(_))));
        assert!(matches!(error_line(b"CLIENT_ERROR bad command line format"), Some(Failure::Rejected(_))));
        assert!(matches!(
            error_line(b"CLIENT_ERROR cannot increment or decrement non-numeric value"),
            Some(Failure::NotANumber)
        ));
        assert!(error_line(b"STORED").is_none());
        assert!(error_line(b"ERRORS").is_none());
    }
}
