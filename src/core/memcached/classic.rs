//! The store's requests in memcached's classic text protocol, as every
//! memcached since 1.4, twemproxy, mcrouter and the managed services speak
//! it: only `get gets set add cas incr`, the commands all of them share
//! (no `touch`, `gat`, `stats` or meta commands).
//!
//! Two requests have no classic command of their own:
//! - a compare-and-delete is a `cas` whose expiry is already past: memcached
//!   reads an expiry over 30 days as a Unix time, and this one is in 1970,
//!   so the item is gone the moment it is stored, only if its CAS matched;
//! - an increment that creates its key is `incr`, then `add` when the key
//!   is missing (the store does that: two commands).

use std::io::Write;
use std::time::Instant;

use super::connection::{error_line, number, printable, Failure, Item, Mode, Reply, Request, Status};
use super::transport::{garbled, Transport};
use crate::token::MAX_RELATIVE_TTL;

/// An expiry memcached reads as a Unix time in the past (1970-01-31).
const ALREADY_EXPIRED: u64 = MAX_RELATIVE_TTL + 1;

pub fn encode(request: &Request, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = match *request {
        Request::Get { keys, ttl, cas } => {
            // Classic replies never say how long an item is kept.
            debug_assert!(!ttl, "classic get has no TTL");
            out.extend_from_slice(if cas { b"gets" } else { b"get" });
            for key in keys {
                out.push(b' ');
                out.extend_from_slice(key.as_bytes());
            }
            out.write_all(b"\r\n")
        }
        Request::Store { key, value, ttl, mode } => {
            let _ = match mode {
                Mode::Set => write!(out, "set {key} 0 {ttl} {}\r\n", value.len()),
                Mode::Add => write!(out, "add {key} 0 {ttl} {}\r\n", value.len()),
                Mode::Cas(cas) => write!(out, "cas {key} 0 {ttl} {} {cas}\r\n", value.len()),
            };
            out.extend_from_slice(value.as_bytes());
            out.write_all(b"\r\n")
        }
        Request::DeleteIf { key, cas } => write!(out, "cas {key} 0 {ALREADY_EXPIRED} 0 {cas}\r\n\r\n"),
        Request::Increment { key, delta, .. } => write!(out, "incr {key} {delta}\r\n"),
        // A probe is the meta no-op whatever the protocol: it asks.
        Request::Probe => out.write_all(b"mn\r\n"),
    };
}

pub fn receive(request: &Request, transport: &mut Transport, deadline: Instant) -> Result<Reply, Failure> {
    if let Request::Get { .. } = request {
        return values(transport, deadline);
    }
    let line = transport.line(deadline)?;
    let line = transport.bytes(line);
    if let Some(failure) = error_line(line) {
        return Err(failure);
    }
    let status = match line {
        b"STORED" | b"DELETED" | b"MN" => Status::Done,
        b"NOT_STORED" => Status::NotStored,
        b"EXISTS" => Status::Exists,
        b"NOT_FOUND" => Status::NotFound,
        digits if matches!(request, Request::Increment { .. }) && number::<u64>(digits.trim_ascii()).is_some() => {
            let value = digits.to_vec();
            return Ok(Reply::with(
                Status::Value,
                [Item { key: None, client_flags: None, ttl: None, cas: None, value }],
            ));
        }
        other => return Err(garbled(&format!("'{}'", printable(other)))),
    };
    Ok(Reply::status(status))
}

/// `VALUE <key> <flags> <bytes> [<cas>]` and its data, for each key found,
/// then `END`.
fn values(transport: &mut Transport, deadline: Instant) -> Result<Reply, Failure> {
    let mut items = Vec::new();
    loop {
        let line = transport.line(deadline)?;
        let line = transport.bytes(line);
        if line == b"END" {
            break;
        }
        if let Some(failure) = error_line(line) {
            return Err(failure);
        }
        let mut words = line.split(|&b| b == b' ').filter(|word| !word.is_empty());
        if words.next() != Some(b"VALUE") {
            return Err(garbled(&format!("'{}'", printable(line))));
        }
        let key = words.next().map(|key| String::from_utf8_lossy(key).into_owned());
        let client_flags = words.next().and_then(number);
        let length: usize = words.next().and_then(number).ok_or_else(|| garbled("VALUE without a length"))?;
        let cas = words.next().and_then(number);
        if key.is_none() || client_flags.is_none() {
            return Err(garbled("VALUE without a key or flags"));
        }
        let value = transport.data(length, deadline)?;
        items.push(Item { key, client_flags, ttl: None, cas, value });
    }
    let status = if items.is_empty() { Status::Miss } else { Status::Value };
    Ok(Reply::with(status, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(request: Request) -> String {
        let mut out = Vec::new();
        encode(&request, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn requests_are_the_commands_every_server_shares() {
        assert_eq!(encoded(Request::Get { keys: &["k", "k:meta"], ttl: false, cas: false }), "get k k:meta\r\n");
        assert_eq!(encoded(Request::Get { keys: &["k:lock"], ttl: false, cas: true }), "gets k:lock\r\n");
        let store = |mode| Request::Store { key: "k:lock", value: "id 1", ttl: 7, mode };
        assert_eq!(encoded(store(Mode::Set)), "set k:lock 0 7 4\r\nid 1\r\n");
        assert_eq!(encoded(store(Mode::Add)), "add k:lock 0 7 4\r\nid 1\r\n");
        assert_eq!(encoded(store(Mode::Cas(42))), "cas k:lock 0 7 4 42\r\nid 1\r\n");
        // Deleted only if unchanged: stored with an expiry in 1970.
        assert_eq!(encoded(Request::DeleteIf { key: "k", cas: 9 }), "cas k 0 2592001 0 9\r\n\r\n");
        let increment = Request::Increment { key: "n", delta: 1, create: Some((1, 60)) };
        assert_eq!(encoded(increment), "incr n 1\r\n");
    }

    /// Replies fed through a real socket pair, as the server would send them.
    fn reply_to(request: Request, bytes: &[u8]) -> Result<Reply, Failure> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        server.write_all(bytes).unwrap();
        let mut transport = Transport::tcp(client);
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let reply = receive(&request, &mut transport, deadline);
        assert!(reply.is_err() || transport.in_step(), "a whole reply leaves nothing behind");
        reply
    }

    #[test]
    fn values_are_read_with_their_keys_flags_and_cas() {
        let get = Request::Get { keys: &["a", "b", "c"], ttl: false, cas: true };
        let reply = reply_to(get, b"VALUE a 0 3 11\r\nxyz\r\nVALUE c 2 0 12\r\n\r\nEND\r\n").unwrap();
        assert_eq!(reply.status, Status::Value);
        let a = reply.item("a").unwrap();
        assert_eq!((a.client_flags, a.cas, a.value.as_slice()), (Some(0), Some(11), &b"xyz"[..]));
        assert!(reply.item("b").is_none());
        assert_eq!(reply.item("c").unwrap().client_flags, Some(2));
        assert_eq!(reply_to(get, b"END\r\n").unwrap().status, Status::Miss);
        assert!(matches!(reply_to(get, b"VALUE a 0\r\n"), Err(Failure::Broken { .. })));
        assert!(matches!(reply_to(get, b"VALUE a 0 2\r\nabc\r\nEND\r\n"), Err(Failure::Broken { .. })));
        assert!(matches!(reply_to(get, b"SERVER_ERROR proxy: backend down\r\n"), Err(Failure::ServerError(_))));
    }

    #[test]
    fn statuses_and_counts_are_read() {
        let add = Request::Store { key: "k", value: "v", ttl: 1, mode: Mode::Add };
        assert_eq!(reply_to(add, b"STORED\r\n").unwrap().status, Status::Done);
        assert_eq!(reply_to(add, b"NOT_STORED\r\n").unwrap().status, Status::NotStored);
        let cas = Request::Store { key: "k", value: "v", ttl: 1, mode: Mode::Cas(3) };
        assert_eq!(reply_to(cas, b"EXISTS\r\n").unwrap().status, Status::Exists);
        assert_eq!(reply_to(cas, b"NOT_FOUND\r\n").unwrap().status, Status::NotFound);
        let incr = Request::Increment { key: "n", delta: 1, create: None };
        let reply = reply_to(incr, b"42\r\n").unwrap();
        assert_eq!((reply.status, reply.first().unwrap().value.as_slice()), (Status::Value, &b"42"[..]));
        assert_eq!(reply_to(incr, b"NOT_FOUND\r\n").unwrap().status, Status::NotFound);
        assert!(matches!(
            reply_to(incr, b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
            Err(Failure::NotANumber)
        ));
        assert!(matches!(reply_to(add, b"ERROR\r\n"), Err(Failure::Rejected(_))));
        assert!(matches!(reply_to(add, b"42\r\n"), Err(Failure::Broken { .. })), "a number answers only incr");
    }
}
