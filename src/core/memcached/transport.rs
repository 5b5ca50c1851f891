//! The bytes of one connection to one memcached server (TCP, or a unix
//! socket), with a deadline for every exchange, whatever the protocol.
//!
//! Our own rather than the memcache crate's because a PHP process gets
//! signals (pcntl handlers, timers): a read or write they interrupt (EINTR)
//! is simply retried within the exchange's deadline, and the caller learns
//! whether any byte of a request left before its reply was lost, which
//! decides whether an `add` may have been applied.

use std::ffi::CString;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Failure;
use crate::config::ServerAddr;

/// The kernel counts socket timeouts in scheduler ticks (1 to 10 ms): an
/// armed timeout within this of the time left is close enough, which saves a
/// setsockopt per syscall on the fast path.
const SLACK: Duration = Duration::from_millis(1);

/// Read buffer size; a bigger one (after a big value) is not kept.
const BUFFER: usize = 4096;

/// A reply line longer than this is not memcached talking.
const MAX_LINE: usize = 8192;

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(timeout)),
            Stream::Unix(s) => s.set_read_timeout(Some(timeout)),
        }
    }

    fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(Some(timeout)),
            Stream::Unix(s) => s.set_write_timeout(Some(timeout)),
        }
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).write(buf),
            Stream::Unix(s) => (&*s).write(buf),
        }
    }

    /// Whether a byte or the end of the stream is waiting: recv's count (0:
    /// closed), or its error (`WouldBlock`: nothing waiting). One system
    /// call, the socket's mode untouched.
    fn peek(&self) -> io::Result<usize> {
        let fd = match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        };
        // SAFETY: the descriptor is open for as long as `self` lives.
        let n = unsafe { weixin_socket_peek(fd) };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }
}

extern "C" {
    /// `recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT)` (posix_shim.c: the
    /// flags come from the system headers).
    fn weixin_socket_peek(fd: std::os::raw::c_int) -> std::os::raw::c_long;
    /// A non-blocking connect to a unix socket, the descriptor then made
    /// blocking (posix_shim.c).
    fn weixin_unix_connect(path: *const std::os::raw::c_char) -> std::os::raw::c_int;
}

/// The addresses of `host`, by `deadline`. An IP address needs no lookup;
/// a name is looked up on a thread of its own, so a slow or dead resolver
/// costs at most the time left (the lookup itself cannot be interrupted,
/// and finishes on its own).
pub fn resolve(host: &str, port: u16, deadline: Instant) -> io::Result<Vec<SocketAddr>> {
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

/// A connection's bytes: what was received and not yet consumed, and the
/// request being sent.
pub struct Transport {
    stream: Stream,
    /// The timeouts armed on the socket (`None`: none yet).
    read_armed: Option<Duration>,
    write_armed: Option<Duration>,
    /// Received bytes; `buf[start..end]` is not consumed yet.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The request being sent, kept to reuse its allocation.
    pub out: Vec<u8>,
}

impl Transport {
    /// Connects by `deadline` (std's connect_timeout retries EINTR in its
    /// poll; host names resolve through getaddrinfo, which does too). A unix
    /// socket connects at once or not at all.
    pub fn open(server: &ServerAddr, deadline: Instant) -> Result<Transport, Failure> {
        if let Some(path) = server.unix_path() {
            return connect_unix(path, deadline).map(|s| Transport::new(Stream::Unix(s))).map_err(Failure::Connect);
        }
        let mut last = io::Error::new(ErrorKind::NotFound, "the host name resolves to no address");
        for address in resolve(&server.host, server.port, deadline).map_err(Failure::Connect)? {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::Connect(io::Error::new(ErrorKind::TimedOut, "connection timed out")));
            }
            match TcpStream::connect_timeout(&address, left) {
                Ok(stream) => {
                    stream.set_nodelay(true).map_err(Failure::Connect)?;
                    return Ok(Transport::new(Stream::Tcp(stream)));
                }
                Err(error) => last = error,
            }
        }
        Err(Failure::Connect(last))
    }

    #[cfg(test)]
    pub fn tcp(stream: TcpStream) -> Transport {
        Transport::new(Stream::Tcp(stream))
    }

    fn new(stream: Stream) -> Transport {
        Transport {
            stream,
            read_armed: None,
            write_armed: None,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            out: Vec::new(),
        }
    }

    /// Whether everything received was consumed: the connection can carry
    /// another exchange.
    pub fn in_step(&self) -> bool {
        self.start == self.end
    }

    /// After a whole reply: the buffer starts over (and shrinks back).
    pub fn reset(&mut self) {
        if self.in_step() {
            (self.start, self.end) = (0, 0);
            if self.buf.len() > BUFFER {
                self.buf = vec![0; BUFFER];
            }
        }
    }

    /// Whether the server still holds the connection open and has sent
    /// nothing unasked: a non-blocking peek sees neither end of stream nor
    /// stray bytes. Worth it only before a request that must not be sent
    /// twice, which then goes out on a live connection.
    pub fn is_idle(&self) -> bool {
        if !self.in_step() {
            return false;
        }
        loop {
            match self.stream.peek() {
                Err(error) if error.kind() == ErrorKind::WouldBlock => return true,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                // 0: closed by the server; more: bytes nobody asked for.
                _ => return false,
            }
        }
    }

    /// Sends `out` whole by `deadline`.
    pub fn send(&mut self, deadline: Instant) -> Result<(), Failure> {
        let mut written = 0;
        while written < self.out.len() {
            let sent = written > 0;
            let left = time_left(deadline).ok_or(Failure::TimedOut { sent })?;
            if needs_arming(self.write_armed, left) {
                self.stream.set_write_timeout(left).map_err(|error| Failure::Broken { error, sent })?;
                self.write_armed = Some(left);
            }
            match self.stream.write(&self.out[written..]) {
                Ok(0) => return Err(Failure::Broken { error: ErrorKind::WriteZero.into(), sent }),
                Ok(n) => written += n,
                // A signal, or the armed time ran out: the deadline decides.
                Err(error) if retry(&error) => {}
                Err(error) => return Err(Failure::Broken { error, sent }),
            }
        }
        Ok(())
    }

    /// The next line of the reply, without its `\r\n`, as a range of the
    /// buffer (read it with `bytes`), consumed.
    pub fn line(&mut self, deadline: Instant) -> Result<(usize, usize), Failure> {
        let line_end = loop {
            if let Some(at) = self.buf[self.start..self.end].windows(2).position(|w| w == b"\r\n") {
                break self.start + at;
            }
            if self.end - self.start > MAX_LINE {
                return Err(garbled("a reply line without end"));
            }
            self.fill(deadline)?;
        };
        let line = (self.start, line_end);
        self.start = line_end + 2;
        Ok(line)
    }

    /// A data block of `length` bytes and its `\r\n`, consumed.
    pub fn data(&mut self, length: usize, deadline: Instant) -> Result<Vec<u8>, Failure> {
        let whole = length.checked_add(2).ok_or_else(|| garbled("a value length out of range"))?;
        while self.end - self.start < whole {
            self.fill(deadline)?;
        }
        let data = &self.buf[self.start..self.start + whole];
        if !data.ends_with(b"\r\n") {
            return Err(garbled("a value longer than announced"));
        }
        let value = data[..length].to_vec();
        self.start += whole;
        Ok(value)
    }

    /// Bytes of the buffer (a line `line` returned, still valid until the
    /// next read).
    pub fn bytes(&self, (from, to): (usize, usize)) -> &[u8] {
        &self.buf[from..to]
    }

    /// Reads what arrived (at least one byte) after `buf[..end]`, moving
    /// what is not consumed to the front when the buffer is full: a range
    /// `line` returned is valid only until the next read (callers turn it
    /// into a slice at once).
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
                self.stream.set_read_timeout(left).map_err(|error| Failure::Broken { error, sent: true })?;
                self.read_armed = Some(left);
            }
            match self.stream.read(&mut self.buf[self.end..]) {
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

/// Connects to a unix socket by `deadline`. The connect itself never
/// blocks: a server that stopped accepting (SIGSTOP) fills its listen
/// queue, and then a connect answers EAGAIN, tried again shortly until the
/// deadline.
fn connect_unix(path: &str, deadline: Instant) -> io::Result<UnixStream> {
    let path = CString::new(path).map_err(|_| io::Error::new(ErrorKind::InvalidInput, "a NUL in the path"))?;
    loop {
        // SAFETY: a NUL-terminated path; the descriptor returned is ours.
        let fd = unsafe { weixin_unix_connect(path.as_ptr()) };
        if fd >= 0 {
            // SAFETY: a fresh, connected descriptor nobody else owns.
            return Ok(unsafe { UnixStream::from_raw_fd(fd) });
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            ErrorKind::Interrupted => {}
            ErrorKind::WouldBlock => match time_left(deadline) {
                Some(left) => std::thread::sleep(left.min(Duration::from_millis(5))),
                None => return Err(io::Error::new(ErrorKind::TimedOut, "connection timed out (its queue is full)")),
            },
            _ => return Err(error),
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

pub fn closed() -> io::Error {
    io::Error::new(ErrorKind::UnexpectedEof, "connection closed by the server")
}

/// A reply that is not what the protocol says.
pub fn garbled(what: &str) -> Failure {
    Failure::Broken {
        error: io::Error::new(ErrorKind::InvalidData, format!("not memcached's reply: {what}")),
        sent: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arming_is_skipped_when_close_enough() {
        let ms = Duration::from_millis;
        assert!(needs_arming(None, ms(250)));
        assert!(!needs_arming(Some(ms(250)), ms(250) - Duration::from_micros(50)));
        assert!(needs_arming(Some(ms(250)), ms(100)), "would outlast the deadline");
        assert!(needs_arming(Some(ms(10)), ms(250)), "would wake up early");
    }

    #[test]
    fn a_unix_socket_that_accepts_nothing_times_out_instead_of_blocking() {
        // A stopped memcached: its listen queue fills and stays full.
        let path = std::env::temp_dir().join(format!("weixin-test-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        extern "C" {
            fn listen(fd: std::os::raw::c_int, backlog: std::os::raw::c_int) -> std::os::raw::c_int;
        }
        // A short queue (listening again sets it), so that a few fill it.
        // SAFETY: the listener's own descriptor.
        assert_eq!(unsafe { listen(listener.as_raw_fd(), 2) }, 0);
        let server = ServerAddr { host: format!("unix://{}", path.display()), port: 0 };
        let mut queued = Vec::new();
        let mut timed_out = 0;
        for _ in 0..400 {
            let started = Instant::now();
            match Transport::open(&server, Instant::now() + Duration::from_millis(20)) {
                Ok(transport) => queued.push(transport),
                Err(Failure::Connect(error)) if error.kind() == ErrorKind::TimedOut => timed_out += 1,
                Err(other) => panic!("{other:?}"),
            }
            assert!(started.elapsed() < Duration::from_secs(2), "a connect blocked");
            if timed_out == 3 {
                break;
            }
        }
        assert_eq!(timed_out, 3, "the queue never filled ({} queued)", queued.len());
        let _ = std::fs::remove_file(&path);
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
