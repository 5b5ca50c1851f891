//! One blocking connection to one memcached server, speaking the meta
//! protocol.
//!
//! Our own rather than the memcache crate's because a PHP process gets
//! signals (pcntl handlers, timers): a read or write they interrupt (EINTR)
//! is simply retried within the exchange's deadline, and the caller learns
//! whether any byte of a request left before its reply was lost, which
//! decides whether an `add` may have been applied.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The kernel counts socket timeouts in scheduler ticks (1 to 10 ms): an
/// armed timeout within this of the time left is close enough, which saves a
/// setsockopt per syscall on the fast path.
const SLACK: Duration = Duration::from_millis(1);

/// Read buffer size; a bigger one (after a big value) is not kept.
const BUFFER: usize = 4096;

/// A header line longer than this is not memcached talking.
const MAX_LINE: usize = 8192;

/// How memcached (1.6) refuses to increment a value that is not a number.
const NOT_A_NUMBER: &[u8] = b"cannot increment or decrement non-numeric value";

/// What to store with `ms`.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Set,
    /// Only if absent (`ME`).
    Add,
    /// Only if the item still has this CAS value.
    Cas(u64),
}

#[derive(Clone, Copy, Debug)]
pub enum Request<'a> {
    /// `mg key flags`
    Get { key: &'a str, flags: &'static str },
    /// `ms key len T<ttl> F0 [ME|C<cas>]` and the value.
    Store { key: &'a str, value: &'a str, ttl: u32, mode: Mode },
    /// `md key C<cas>`
    DeleteIf { key: &'a str, cas: u64 },
    /// `ma key N<ttl> J<initial> D<delta> v`: adds `delta` to the number
    /// under `key`, or creates it as `initial` (not `initial + delta`),
    /// kept `ttl` seconds; the reply carries the new value. One atomic
    /// round trip; not idempotent.
    Increment { key: &'a str, delta: u64, initial: u64, ttl: u32 },
}

impl Request<'_> {
    pub fn key(&self) -> &str {
        match *self {
            Request::Get { key, .. }
            | Request::Store { key, .. }
            | Request::DeleteIf { key, .. }
            | Request::Increment { key, .. } => key,
        }
    }

    /// Whether sending it twice does what sending it once does. An `add` or
    /// a compare-and-swap applied twice answers "not stored" the second
    /// time, as if it had lost; an increment applied twice counts twice:
    /// such a request is never sent again once any byte of it left.
    pub fn may_resend(&self) -> bool {
        !matches!(self, Request::Store { mode: Mode::Add | Mode::Cas(_), .. } | Request::Increment { .. })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        // Writing into a Vec cannot fail.
        let _ = match *self {
            Request::Get { key, flags } => write!(out, "mg {key} {flags}\r\n"),
            Request::Store { key, value, ttl, mode } => {
                let _ = write!(out, "ms {key} {} T{ttl} F0", value.len());
                let _ = match mode {
                    Mode::Set => Ok(()),
                    Mode::Add => out.write_all(b" ME"),
                    Mode::Cas(cas) => write!(out, " C{cas}"),
                };
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(value.as_bytes());
                out.write_all(b"\r\n")
            }
            Request::DeleteIf { key, cas } => write!(out, "md {key} C{cas}\r\n"),
            Request::Increment { key, delta, initial, ttl } => {
                write!(out, "ma {key} N{ttl} J{initial} D{delta} v\r\n")
            }
        };
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `VA`: a value follows.
    Value,
    /// `HD`: done (stored, deleted, found without value).
    Done,
    /// `EN`: no such key (`mg`).
    Miss,
    /// `NS`: not stored (`add` of a present key).
    NotStored,
    /// `EX`: the CAS value no longer matches.
    Exists,
    /// `NF`: not found (compare-and-swap, delete).
    NotFound,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: Status,
    /// `f`: the client flags (PHP clients: 0 for a plain string).
    pub client_flags: Option<u32>,
    /// `t`: seconds memcached still keeps the item, -1 for no expiry.
    pub ttl: Option<i64>,
    /// `c`: the item's CAS value.
    pub cas: Option<u64>,
    pub value: Option<Vec<u8>>,
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
    /// `CLIENT_ERROR ...` or `ERROR`: no meta protocol (memcached < 1.6).
    Rejected(String),
    /// `CLIENT_ERROR cannot increment or decrement non-numeric value`: an
    /// increment found something else under its key. Read whole: the server
    /// is up (it speaks the meta protocol) and the connection still in step.
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

/// The addresses of `host`, by `deadline`. An IP address needs no lookup;
/// a name is looked up on a thread of its own, so a slow or dead resolver
/// costs at most the time left (the lookup itself cannot be interrupted,
/// and finishes on its own).
fn resolve(host: &str, port: u16, deadline: Instant) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (sender, receiver) = mpsc::channel();
    let name = host.to_string();
    crate::signals::starting_threads(|| {
        std::thread::Builder::new().name("weixin-dns".into()).spawn(move || {
            let _ = sender.send((name.as_str(), port).to_socket_addrs().map(Iterator::collect));
        })
    })?;
    let left = deadline.saturating_duration_since(Instant::now());
    receiver.recv_timeout(left).unwrap_or_else(|_| {
        Err(io::Error::new(ErrorKind::TimedOut, format!("looking up '{host}' took longer than the time left")))
    })
}

pub struct Connection {
    stream: TcpStream,
    /// The timeouts armed on the socket (`None`: none yet).
    read_armed: Option<Duration>,
    write_armed: Option<Duration>,
    /// Received bytes; `buf[start..end]` is not consumed yet.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The request being sent, kept to reuse its allocation.
    out: Vec<u8>,
}

impl Connection {
    /// Connects by `deadline` (std's connect_timeout retries EINTR in its
    /// poll; host names resolve through getaddrinfo, which does too).
    pub fn open(host: &str, port: u16, deadline: Instant) -> Result<Connection, Failure> {
        let mut last = io::Error::new(ErrorKind::NotFound, "the host name resolves to no address");
        for address in resolve(host, port, deadline).map_err(Failure::Connect)? {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::Connect(io::Error::new(ErrorKind::TimedOut, "connection timed out")));
            }
            match TcpStream::connect_timeout(&address, left) {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(Failure::Connect)?;
                    return Ok(Connection::new(stream));
                }
                Err(error) => last = error,
            }
        }
        Err(Failure::Connect(last))
    }

    pub fn new(stream: TcpStream) -> Connection {
        Connection {
            stream,
            read_armed: None,
            write_armed: None,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            out: Vec::new(),
        }
    }

    /// Sends `request` and reads its reply, all by `deadline`.
    pub fn exchange(&mut self, request: &Request, deadline: Instant) -> Result<Reply, Failure> {
        request.encode(&mut self.out);
        self.send(deadline)?;
        let reply = self.receive(deadline);
        if self.in_step() {
            (self.start, self.end) = (0, 0);
            if self.buf.len() > BUFFER {
                self.buf = vec![0; BUFFER];
            }
        }
        reply
    }

    /// Whether the connection can carry another exchange: everything it
    /// received was one reply.
    pub fn in_step(&self) -> bool {
        self.start == self.end
    }

    /// Whether the server still holds the connection open and has sent
    /// nothing unasked: a non-blocking peek sees neither end of stream nor
    /// stray bytes. Three syscalls: worth it only before a request that must
    /// not be sent twice, which then goes out on a live connection.
    pub fn is_idle(&self) -> bool {
        if !self.in_step() || self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let mut byte = [0u8; 1];
        let idle = loop {
            match self.stream.peek(&mut byte) {
                Err(error) if error.kind() == ErrorKind::WouldBlock => break true,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                // 0: closed by the server; more: bytes nobody asked for.
                _ => break false,
            }
        };
        self.stream.set_nonblocking(false).is_ok() && idle
    }

    fn send(&mut self, deadline: Instant) -> Result<(), Failure> {
        let mut written = 0;
        while written < self.out.len() {
            let sent = written > 0;
            let left = time_left(deadline).ok_or(Failure::TimedOut { sent })?;
            if needs_arming(self.write_armed, left) {
                self.stream.set_write_timeout(Some(left)).map_err(|error| Failure::Broken { error, sent })?;
                self.write_armed = Some(left);
            }
            match (&self.stream).write(&self.out[written..]) {
                Ok(0) => return Err(Failure::Broken { error: ErrorKind::WriteZero.into(), sent }),
                Ok(n) => written += n,
                // A signal, or the armed time ran out: the deadline decides.
                Err(error) if retry(&error) => {}
                Err(error) => return Err(Failure::Broken { error, sent }),
            }
        }
        Ok(())
    }

    fn receive(&mut self, deadline: Instant) -> Result<Reply, Failure> {
        let line_end = loop {
            if let Some(at) = self.buf[self.start..self.end].windows(2).position(|w| w == b"\r\n") {
                break self.start + at;
            }
            if self.end - self.start > MAX_LINE {
                return Err(garbled("a reply line without end"));
            }
            self.fill(deadline)?;
        };
        let header = parse_header(&self.buf[self.start..line_end]);
        self.start = line_end + 2;
        let (mut reply, length) = header?;
        if let Some(length) = length {
            let whole = length.checked_add(2).ok_or_else(|| garbled("a value length out of range"))?;
            while self.end - self.start < whole {
                self.fill(deadline)?;
            }
            let data = &self.buf[self.start..self.start + whole];
            if !data.ends_with(b"\r\n") {
                return Err(garbled("a value longer than announced"));
            }
            reply.value = Some(data[..length].to_vec());
            self.start += whole;
        }
        Ok(reply)
    }

    /// Reads what arrived (at least one byte) after `buf[..end]`.
    fn fill(&mut self, deadline: Instant) -> Result<(), Failure> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        loop {
            let left = time_left(deadline).ok_or(Failure::TimedOut { sent: true })?;
            if needs_arming(self.read_armed, left) {
                self.stream.set_read_timeout(Some(left)).map_err(|error| Failure::Broken { error, sent: true })?;
                self.read_armed = Some(left);
            }
            match (&self.stream).read(&mut self.buf[self.end..]) {
                Ok(0) => return Err(Failure::Broken { error: closed(), sent: true }),
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(error) if retry(&error) => {}
                Err(error) => return Err(Failure::Broken { error, sent: true }),
            }
        }
    }
}

fn time_left(deadline: Instant) -> Option<Duration> {
    Some(deadline.saturating_duration_since(Instant::now())).filter(|left| !left.is_zero())
}

fn needs_arming(armed: Option<Duration>, left: Duration) -> bool {
    armed.is_none_or(|armed| armed.abs_diff(left) > SLACK)
}

/// EINTR (a signal handler ran) or EAGAIN (SO_RCVTIMEO/SO_SNDTIMEO ran
/// out): tried again, unless the deadline has passed meanwhile.
fn retry(error: &io::Error) -> bool {
    matches!(error.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock)
}

fn closed() -> io::Error {
    io::Error::new(ErrorKind::UnexpectedEof, "connection closed by the server")
}

fn garbled(what: &str) -> Failure {
    Failure::Broken {
        error: io::Error::new(ErrorKind::InvalidData, format!("not memcached's reply: {what}")),
        sent: true,
    }
}

/// A reply's first line: its status and flags, and the data length of a
/// value. `SERVER_ERROR`, `CLIENT_ERROR` and `ERROR` come back as failures.
fn parse_header(line: &[u8]) -> Result<(Reply, Option<usize>), Failure> {
    let mut words = line.split(|&b| b == b' ').filter(|word| !word.is_empty());
    let mut length = None;
    let status = match words.next().unwrap_or_default() {
        b"VA" => {
            length = Some(words.next().and_then(number).ok_or_else(|| garbled("VA without a length"))?);
            Status::Value
        }
        b"HD" => Status::Done,
        b"EN" => Status::Miss,
        b"NS" => Status::NotStored,
        b"EX" => Status::Exists,
        b"NF" => Status::NotFound,
        b"SERVER_ERROR" => {
            let message = line.strip_prefix(b"SERVER_ERROR").unwrap_or_default().trim_ascii();
            return Err(Failure::ServerError(printable(message)));
        }
        b"CLIENT_ERROR" if line.trim_ascii_end().ends_with(NOT_A_NUMBER) => return Err(Failure::NotANumber),
        b"CLIENT_ERROR" | b"ERROR" => return Err(Failure::Rejected(printable(line))),
        _ => return Err(garbled(&format!("'{}'", printable(line)))),
    };
    let mut reply = Reply { status, client_flags: None, ttl: None, cas: None, value: None };
    for word in words {
        let (flag, token) = word.split_at(1);
        match flag {
            b"f" => reply.client_flags = number(token),
            b"t" => reply.ttl = number(token),
            b"c" => reply.cas = number(token),
            _ => {}
        }
    }
    Ok((reply, length))
}

fn number<T: std::str::FromStr>(digits: &[u8]) -> Option<T> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Server text for a message: at most 100 bytes, lossy.
fn printable(text: &[u8]) -> String {
    String::from_utf8_lossy(&text[..text.len().min(100)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(request: Request) -> String {
        let mut out = Vec::new();
        request.encode(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn requests_are_meta_commands() {
        assert_eq!(encoded(Request::Get { key: "k", flags: "v f t" }), "mg k v f t\r\n");
        let store = |mode| Request::Store { key: "k:lock", value: "id 1", ttl: 7, mode };
        assert_eq!(encoded(store(Mode::Set)), "ms k:lock 4 T7 F0\r\nid 1\r\n");
        assert_eq!(encoded(store(Mode::Add)), "ms k:lock 4 T7 F0 ME\r\nid 1\r\n");
        assert_eq!(encoded(store(Mode::Cas(42))), "ms k:lock 4 T7 F0 C42\r\nid 1\r\n");
        assert_eq!(encoded(Request::DeleteIf { key: "k", cas: 9 }), "md k C9\r\n");
        let increment = Request::Increment { key: "weixin_requests:wx1:20261124", delta: 1, initial: 1, ttl: 172_800 };
        assert_eq!(encoded(increment), "ma weixin_requests:wx1:20261124 N172800 J1 D1 v\r\n");
        assert_eq!(increment.key(), "weixin_requests:wx1:20261124");
        assert!(!increment.may_resend(), "applied twice, it counts twice");
        assert!(Request::Get { key: "k", flags: "v" }.may_resend());
        assert!(store(Mode::Set).may_resend());
        assert!(!store(Mode::Add).may_resend());
        assert!(!store(Mode::Cas(1)).may_resend());
    }

    #[test]
    fn headers_are_read() {
        let (reply, length) = parse_header(b"VA 5 f0 t-1 c77").unwrap();
        assert_eq!((reply.status, length), (Status::Value, Some(5)));
        assert_eq!((reply.client_flags, reply.ttl, reply.cas), (Some(0), Some(-1), Some(77)));
        assert_eq!(parse_header(b"HD").unwrap().0.status, Status::Done);
        assert_eq!(parse_header(b"EN").unwrap().0.status, Status::Miss);
        assert_eq!(parse_header(b"NS").unwrap().0.status, Status::NotStored);
        assert_eq!(parse_header(b"EX").unwrap().0.status, Status::Exists);
        assert_eq!(parse_header(b"NF").unwrap().0.status, Status::NotFound);
        match parse_header(b"SERVER_ERROR out of memory storing object") {
            Err(Failure::ServerError(message)) => assert_eq!(message, "out of memory storing object"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse_header(b"ERROR"), Err(Failure::Rejected(_))));
        assert!(matches!(parse_header(b"CLIENT_ERROR bad command line format"), Err(Failure::Rejected(_))));
        // An increment's reply: the new value, as a value.
        let (reply, length) = parse_header(b"VA 4").unwrap();
        assert_eq!((reply.status, length, reply.client_flags), (Status::Value, Some(4), None));
        assert!(matches!(
            parse_header(b"CLIENT_ERROR cannot increment or decrement non-numeric value"),
            Err(Failure::NotANumber)
        ));
        assert!(matches!(parse_header(b"VA"), Err(Failure::Broken { .. })));
        assert!(matches!(parse_header(b"STORED"), Err(Failure::Broken { .. })));
        assert!(matches!(parse_header(b""), Err(Failure::Broken { .. })));
    }

    #[test]
    fn arming_is_skipped_when_close_enough() {
        let ms = Duration::from_millis;
        assert!(needs_arming(None, ms(250)));
        assert!(!needs_arming(Some(ms(250)), ms(250) - Duration::from_micros(50)));
        assert!(needs_arming(Some(ms(250)), ms(100)), "would outlast the deadline");
        assert!(needs_arming(Some(ms(10)), ms(250)), "would wake up early");
    }

    #[test]
    fn addresses_need_no_lookup_and_names_are_looked_up_by_the_deadline() {
        let soon = Instant::now() + Duration::from_secs(5);
        assert_eq!(resolve("127.0.0.1", 11211, soon).unwrap(), vec!["127.0.0.1:11211".parse().unwrap()]);
        assert_eq!(resolve("::1", 1, soon).unwrap(), vec!["[::1]:1".parse().unwrap()]);
        // A spent deadline: an address still needs no time.
        assert!(resolve("127.0.0.1", 1, Instant::now()).is_ok());
        let local = resolve("localhost", 11211, soon).unwrap();
        assert!(!local.is_empty() && local.iter().all(|a| a.ip().is_loopback()), "{local:?}");
        assert!(resolve("no-such-host.invalid", 1, soon).is_err());
    }
}
