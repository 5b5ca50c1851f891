//! The store's requests in memcached's meta protocol (1.6+): `mg`, `ms`,
//! `md`, `ma`, `mn`. One command, one reply line (and a value).

use std::io::Write;
use std::time::Instant;

use super::connection::{error_line, number, printable, Failure, Item, Mode, Reply, Request, Status};
use super::transport::{garbled, Transport};

pub fn encode(request: &Request, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = match *request {
        Request::Get { keys, ttl, cas } => {
            // One key per meta command: the store asks for one at a time.
            debug_assert_eq!(keys.len(), 1);
            let key = keys.first().copied().unwrap_or_default();
            write!(out, "mg {key} v f{}{}\r\n", if ttl { " t" } else { "" }, if cas { " c" } else { "" })
        }
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
        Request::Increment { key, delta, create: Some((initial, ttl)) } => {
            write!(out, "ma {key} N{ttl} J{initial} D{delta} v\r\n")
        }
        Request::Increment { key, delta, create: None } => write!(out, "ma {key} D{delta} v\r\n"),
        Request::Probe => out.write_all(b"mn\r\n"),
    };
}

pub fn receive(transport: &mut Transport, deadline: Instant) -> Result<Reply, Failure> {
    let line = transport.line(deadline)?;
    let (mut reply, length) = parse_header(transport.bytes(line))?;
    if let (Some(length), Some(item)) = (length, reply.first_mut()) {
        item.value = transport.data(length, deadline)?;
    }
    Ok(reply)
}

/// A reply's first line: its status and flags, and the data length of a
/// value. `SERVER_ERROR`, `CLIENT_ERROR` and `ERROR` come back as failures.
fn parse_header(line: &[u8]) -> Result<(Reply, Option<usize>), Failure> {
    if let Some(failure) = error_line(line) {
        return Err(failure);
    }
    let mut words = line.split(|&b| b == b' ').filter(|word| !word.is_empty());
    let mut length = None;
    let status = match words.next().unwrap_or_default() {
        b"VA" => {
            length = Some(words.next().and_then(number).ok_or_else(|| garbled("VA without a length"))?);
            Status::Value
        }
        b"HD" | b"MN" => Status::Done,
        b"EN" => Status::Miss,
        b"NS" => Status::NotStored,
        b"EX" => Status::Exists,
        b"NF" => Status::NotFound,
        _ => return Err(garbled(&format!("'{}'", printable(line)))),
    };
    let mut item = Item { key: None, client_flags: None, ttl: None, cas: None, value: Vec::new() };
    for word in words {
        let (flag, token) = word.split_at(1);
        match flag {
            b"f" => item.client_flags = number(token),
            b"t" => item.ttl = number(token),
            b"c" => item.cas = number(token),
            _ => {}
        }
    }
    let reply = if status == Status::Value { Reply::with(status, [item]) } else { Reply::status(status) };
    Ok((reply, length))
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
    fn requests_are_meta_commands() {
        assert_eq!(encoded(Request::Get { keys: &["k"], ttl: true, cas: false }), "mg k v f t\r\n");
        assert_eq!(encoded(Request::Get { keys: &["k"], ttl: false, cas: true }), "mg k v f c\r\n");
        let store = |mode| Request::Store { key: "k:lock", value: "id 1", ttl: 7, mode };
        assert_eq!(encoded(store(Mode::Set)), "ms k:lock 4 T7 F0\r\nid 1\r\n");
        assert_eq!(encoded(store(Mode::Add)), "ms k:lock 4 T7 F0 ME\r\nid 1\r\n");
        assert_eq!(encoded(store(Mode::Cas(42))), "ms k:lock 4 T7 F0 C42\r\nid 1\r\n");
        assert_eq!(encoded(Request::DeleteIf { key: "k", cas: 9 }), "md k C9\r\n");
        let increment =
            Request::Increment { key: "weixin_requests:wx1:20261124", delta: 1, create: Some((1, 172_800)) };
        assert_eq!(encoded(increment), "ma weixin_requests:wx1:20261124 N172800 J1 D1 v\r\n");
        assert_eq!(encoded(Request::Probe), "mn\r\n");
    }

    #[test]
    fn headers_are_read() {
        let (reply, length) = parse_header(b"VA 5 f0 t-1 c77").unwrap();
        assert_eq!((reply.status, length), (Status::Value, Some(5)));
        let item = reply.first().unwrap();
        assert_eq!((item.client_flags, item.ttl, item.cas), (Some(0), Some(-1), Some(77)));
        assert_eq!(parse_header(b"HD").unwrap().0.status, Status::Done);
        assert_eq!(parse_header(b"MN").unwrap().0.status, Status::Done);
        assert_eq!(parse_header(b"EN").unwrap().0.status, Status::Miss);
        assert_eq!(parse_header(b"NS").unwrap().0.status, Status::NotStored);
        assert_eq!(parse_header(b"EX").unwrap().0.status, Status::Exists);
        assert_eq!(parse_header(b"NF").unwrap().0.status, Status::NotFound);
        assert!(matches!(parse_header(b"SERVER_ERROR out of memory"), Err(Failure::ServerError(_))));
        assert!(matches!(parse_header(b"ERROR"), Err(Failure::Rejected(_))));
        // An increment's reply: the new value, as a value.
        let (reply, length) = parse_header(b"VA 4").unwrap();
        assert_eq!((reply.status, length, reply.first().unwrap().client_flags), (Status::Value, Some(4), None));
        assert!(matches!(parse_header(b"VA"), Err(Failure::Broken { .. })));
        assert!(matches!(parse_header(b"STORED"), Err(Failure::Broken { .. })));
        assert!(matches!(parse_header(b""), Err(Failure::Broken { .. })));
    }
}
