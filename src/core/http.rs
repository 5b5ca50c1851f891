//! HTTP(S) to WeChat: one lazily built `reqwest` blocking client per process.
//!
//! The blocking client owns a runtime thread. Threads do not survive
//! `fork()`, so a client inherited from a parent (php-fpm master,
//! `pcntl_fork`) is never used or dropped in the child: it is forgotten and a
//! new one is built there. Certificates are always verified, against the
//! system store plus the optional `weixin.ca_file`. Requests go through
//! `weixin.proxy` if set, and never through a proxy from the environment.
//!
//! A reply's body is read in pieces as it arrives, into a [`ReplySink`], up
//! to the options' [`ReplyLimit`]: `http_request()`'s goes straight into
//! PHP's memory (the glue's sink, which also keeps to `memory_limit`), a
//! token's into a small buffer. Past either, the connection is dropped
//! unread.

use std::io::{ErrorKind, Read};

use reqwest::blocking::{multipart, Client};

use crate::config::{HttpOptions, ProxySetting};
use crate::error::WeixinError;
use crate::process::{Inherited, PerProcess};

/// A request body, as `curl` would send it.
pub enum Body {
    /// A GET request.
    None,
    /// A POST with a raw body (`application/x-www-form-urlencoded`, as curl).
    Raw(Vec<u8>),
    /// A POST with a JSON body.
    Json(Vec<u8>),
    /// A `multipart/form-data` POST (curl with an array).
    Form(Vec<FormField>),
}

pub enum FormField {
    Text {
        name: String,
        value: Vec<u8>,
    },
    /// An upload from memory (PHP's `CURLStringFile`).
    Bytes {
        name: String,
        value: Vec<u8>,
        filename: Option<String>,
        mime: Option<String>,
    },
    /// A file upload (PHP's `CURLFile`).
    File {
        name: String,
        path: String,
        filename: Option<String>,
        mime: Option<String>,
    },
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Where a reply's body goes as it is read. Its refusal (`Err`) says why,
/// for the message; the reply is then dropped.
pub trait ReplySink {
    /// The body's length as the server announced it (`Content-Length`),
    /// within the limit, before any of it is read: room can be made at once.
    fn announced(&mut self, length: u64) -> Result<(), String>;
    /// The next bytes of the body.
    fn write(&mut self, bytes: &[u8]) -> Result<(), String>;
}

impl ReplySink for Vec<u8> {
    fn announced(&mut self, length: u64) -> Result<(), String> {
        // Within the limit, which is small wherever a Vec is the sink.
        self.reserve(usize::try_from(length).unwrap_or(0));
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// How much of a reply is read at a time: what the process holds of it
/// besides the sink's copy.
const READ_PIECE: usize = 64 << 10;

/// What shapes a client: the settings it was built with.
struct ClientKey {
    ca_file: Option<String>,
    proxy: Option<ProxySetting>,
}

/// This process's clients, one per CA file and proxy, so that threads (ZTS)
/// with different settings do not rebuild each other's. A child of fork()
/// builds its own: the parent's are never used or dropped there (dropping
/// one waits for a runtime thread that did not come along).
static CLIENTS: PerProcess<Vec<(ClientKey, Client)>> = PerProcess::new(Inherited::Kept);

/// Settings a process keeps a client for; past that (INI values changed at
/// run time, again and again), a request with new settings builds its own.
const MAX_CLIENTS: usize = 8;

const USER_AGENT: &str = concat!("weixin-php/", env!("CARGO_PKG_VERSION"));

/// Sends one request and reads its whole reply, up to the options' limit
/// (token and ticket requests). The error text never contains the URL's
/// query, which may carry the AppSecret.
pub fn send(options: &HttpOptions, url: &str, body: Body) -> Result<Response, WeixinError> {
    let mut reply = Vec::new();
    let status = send_to(options, url, body, &mut reply)?;
    Ok(Response { status, body: reply })
}

/// Sends one request; its reply's body goes to `sink` piece by piece as it
/// arrives, up to `options.reply_limit`; the status is returned. A reply
/// announced or found longer than that, or refused by the sink, is dropped
/// with its connection. The error text never contains the URL's query.
pub fn send_to(options: &HttpOptions, url: &str, body: Body, sink: &mut dyn ReplySink) -> Result<u16, WeixinError> {
    let client = client_for(options)?;
    let shown = display_url(url);
    let via = match &options.proxy {
        Some(proxy) => format!(" through the proxy {} (weixin.proxy)", proxy.shown()),
        None => String::new(),
    };
    let request = match body {
        Body::None => client.get(url),
        Body::Raw(bytes) => client.post(url).header("Content-Type", "application/x-www-form-urlencoded").body(bytes),
        Body::Json(bytes) => client.post(url).header("Content-Type", "application/json").body(bytes),
        Body::Form(fields) => client.post(url).multipart(build_form(fields)?),
    };
    let mut response = request
        .timeout(options.timeout)
        .send()
        .map_err(|e| WeixinError::local(format!("request to {shown}{via} failed: {}", describe(e, options))))?;
    let status = response.status().as_u16();
    let dropped = |why: String| WeixinError::local(format!("the reply of {shown}{via} was dropped: {why}"));
    let limit = options.reply_limit;
    if let Some(length) = response.content_length() {
        if length > limit.bytes {
            return Err(dropped(format!("it announced {length} bytes, over {} ({} bytes)", limit.named, limit.bytes)));
        }
        sink.announced(length).map_err(dropped)?;
    }
    let mut piece = vec![0; READ_PIECE];
    let mut read = 0u64;
    loop {
        let n = match response.read(&mut piece) {
            Ok(0) => return Ok(status),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(WeixinError::local(format!(
                    "reading the reply of {shown}{via} failed: {}",
                    describe_read(e, options)
                )))
            }
        };
        read += n as u64;
        if read > limit.bytes {
            return Err(dropped(format!("it went on past {} ({} bytes)", limit.named, limit.bytes)));
        }
        sink.write(&piece[..n]).map_err(dropped)?;
    }
}

/// The client of this process for these options, built on first use.
fn client_for(options: &HttpOptions) -> Result<Client, WeixinError> {
    if let Some(client) = kept(&CLIENTS.lock(), options) {
        return Ok(client);
    }
    // Built with no lock held: it reads the system's roots and the CA file
    // and starts reqwest's runtime thread, and under ZTS every other
    // thread's request would wait for that.
    let built = build_client(options)?;
    let mut clients = CLIENTS.lock();
    let (client, spare) = keep(&mut clients, options, built);
    drop(clients);
    // Dropping a client waits for its runtime thread to end: not under the lock.
    drop(spare);
    Ok(client)
}

/// The client kept for these options, if any.
fn kept(clients: &[(ClientKey, Client)], options: &HttpOptions) -> Option<Client> {
    clients.iter().find(|(key, _)| key.ca_file == options.ca_file && key.proxy == options.proxy).map(|(_, c)| c.clone())
}

/// The client to use, given one just `built`: the one another thread kept
/// for these options meanwhile (then `built` is spare, to be dropped), else
/// `built`, kept too while fewer than `MAX_CLIENTS` are.
fn keep(clients: &mut Vec<(ClientKey, Client)>, options: &HttpOptions, built: Client) -> (Client, Option<Client>) {
    if let Some(theirs) = kept(clients, options) {
        return (theirs, Some(built));
    }
    if clients.len() < MAX_CLIENTS {
        let key = ClientKey { ca_file: options.ca_file.clone(), proxy: options.proxy.clone() };
        clients.push((key, built.clone()));
    }
    (built, None)
}

fn build_client(options: &HttpOptions) -> Result<Client, WeixinError> {
    let mut builder = Client::builder()
        .user_agent(USER_AGENT)
        // curl does not follow redirects either; a redirect must never carry
        // the token URL (and its secret) to another host.
        .redirect(reqwest::redirect::Policy::none())
        .https_only(false);
    builder = match &options.proxy {
        // reqwest honours HTTP_PROXY/HTTPS_PROXY/ALL_PROXY by default: what a
        // process sees would depend on php-fpm's clear_env.
        None => builder.no_proxy(),
        // Every request, loopback ones included; the credentials in the URL
        // are percent-decoded and sent as Proxy-Authorization: Basic.
        Some(proxy) => builder.proxy(reqwest::Proxy::all(proxy.url().clone()).map_err(|e| {
            WeixinError::config(format!("weixin.proxy: {} is refused: {}", proxy.shown(), describe(e, options)))
        })?),
    };
    if let Some(path) = &options.ca_file {
        let pem = read_ca_file(path)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| WeixinError::config(format!("weixin.ca_file: '{path}' is not a PEM bundle: {e}")))?;
        if certs.is_empty() {
            return Err(WeixinError::config(format!("weixin.ca_file: '{path}' holds no certificate")));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    #[cfg(test)]
    tests::WHILE_BUILDING.with(|hook| hook.get().map(|hook| hook()));
    // reqwest starts its runtime thread here.
    crate::signals::starting_threads(|| builder.build())
        .map_err(|e| WeixinError::local(format!("cannot create the HTTP client: {}", describe(e, options))))
}

/// Largest CA bundle read: Debian's whole system bundle is about 220 KiB.
const MAX_CA_FILE: u64 = 4 << 20;

/// `weixin.ca_file`, read only if it is a regular file of a bounded size:
/// `/dev/zero` would grow the process without end, and a FIFO would block
/// it forever. (A FIFO is told apart by `stat`, before any `open`.)
fn read_ca_file(path: &str) -> Result<Vec<u8>, WeixinError> {
    let refuse = |why: String| WeixinError::config(format!("weixin.ca_file: '{path}' {why}"));
    let metadata = std::fs::metadata(path).map_err(|e| refuse(format!("cannot be read: {e}")))?;
    if !metadata.is_file() {
        return Err(refuse("is not a regular file (a PEM bundle is)".into()));
    }
    if metadata.len() > MAX_CA_FILE {
        return Err(refuse(format!("is {} bytes, over the {MAX_CA_FILE} a CA bundle may have", metadata.len())));
    }
    let file = std::fs::File::open(path).map_err(|e| refuse(format!("cannot be read: {e}")))?;
    let mut pem = Vec::with_capacity(metadata.len() as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_CA_FILE + 1), &mut pem)
        .map_err(|e| refuse(format!("cannot be read: {e}")))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(refuse(format!("grew past the {MAX_CA_FILE} bytes a CA bundle may have")));
    }
    Ok(pem)
}

fn build_form(fields: Vec<FormField>) -> Result<multipart::Form, WeixinError> {
    let mut form = multipart::Form::new();
    for field in fields {
        form = match field {
            FormField::Text { name, value } => form.part(name, multipart::Part::bytes(value)),
            FormField::Bytes { name, value, filename, mime } => {
                form.part(name, named_part(multipart::Part::bytes(value), filename, mime)?)
            }
            FormField::File { name, path, filename, mime } => {
                let part = multipart::Part::file(&path)
                    .map_err(|e| WeixinError::local(format!("cannot read the upload file '{path}': {e}")))?;
                form.part(name, named_part(part, filename, mime)?)
            }
        };
    }
    Ok(form)
}

/// An upload part with its file name and MIME type (curl's default type
/// when none is given).
fn named_part(
    mut part: multipart::Part,
    filename: Option<String>,
    mime: Option<String>,
) -> Result<multipart::Part, WeixinError> {
    if let Some(filename) = filename {
        part = part.file_name(filename);
    }
    let mime = mime.unwrap_or_else(|| "application/octet-stream".to_string());
    part.mime_str(&mime).map_err(|_| WeixinError::local(format!("'{mime}' is not a valid MIME type")))
}

/// The URL as it may be shown: scheme, host and path, never the query.
fn display_url(url: &str) -> &str {
    url.split_once('?').map_or(url, |(head, _)| head)
}

/// A reqwest error without its URL, with its causes, on one line.
fn describe(error: reqwest::Error, options: &HttpOptions) -> String {
    let timed_out = error.is_timeout();
    let error = error.without_url();
    let mut text = with_causes(&error);
    if timed_out {
        text.push_str(&format!(" (timed out after {:?}; see {})", options.timeout, options.timeout_setting));
    }
    if text.contains("certificate") || text.contains("UnknownIssuer") {
        text.push_str(" (certificate not trusted; see weixin.ca_file)");
    }
    if text.contains("proxy authorization required") {
        text.push_str(" (the proxy answered 407: it wants a user and password, or refused those of weixin.proxy)");
    } else if text.contains("tunnel error: unsuccessful") {
        text.push_str(" (the proxy would not open a tunnel to the host)");
    }
    scrub(options, &text)
}

/// An error reading a reply's body: reqwest's own (a timeout, a reset)
/// described as above, anything else with its causes.
fn describe_read(error: std::io::Error, options: &HttpOptions) -> String {
    let kind = error.kind();
    let mut text = match error.into_inner() {
        None => kind.to_string(),
        Some(inner) => match inner.downcast::<reqwest::Error>() {
            Ok(error) => return describe(*error, options),
            Err(other) => with_causes(&*other),
        },
    };
    if kind == ErrorKind::TimedOut {
        text.push_str(&format!(" (timed out after {:?}; see {})", options.timeout, options.timeout_setting));
    }
    scrub(options, &text)
}

/// An error and its causes, on one line.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `text` with the proxy's password masked: a last guard, as nothing is
/// meant to print it.
pub fn scrub(options: &HttpOptions, text: &str) -> String {
    match &options.proxy {
        Some(proxy) => proxy.scrub(text),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn display_url_drops_the_query() {
        assert_eq!(display_url("https://h/cgi-bin/token?secret=x"), "https://h/cgi-bin/token");
    }

    #[test]
    fn transport_errors_never_show_the_query() {
        let options = HttpOptions {
            timeout: Duration::from_millis(300),
            timeout_setting: "weixin.timeout",
            reply_limit: crate::config::TOKEN_REPLY_LIMIT,
            ca_file: None,
            proxy: None,
        };
        // Port 9 on loopback: nothing listens, the connection is refused.
        let err = send(&options, "http://127.0.0.1:9/cgi-bin/token?secret=TOPSECRET", Body::None).unwrap_err();
        assert!(!err.message.contains("TOPSECRET"), "{}", err.message);
        assert!(err.message.contains("http://127.0.0.1:9/cgi-bin/token"), "{}", err.message);
        assert_eq!(err.code, 0);
    }

    fn through(proxy: &str) -> HttpOptions {
        HttpOptions {
            timeout: Duration::from_secs(5),
            timeout_setting: "weixin.timeout",
            reply_limit: crate::config::TOKEN_REPLY_LIMIT,
            ca_file: None,
            proxy: crate::config::parse_proxy(proxy).unwrap(),
        }
    }

    /// A request head, read byte by byte up to its blank line (or the end).
    fn read_head(socket: &mut std::net::TcpStream) -> Vec<u8> {
        use std::io::Read;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).unwrap() == 1 {
            head.push(byte[0]);
        }
        head
    }

    /// A proxy on loopback that reads one request head, answers `reply` and
    /// hands back what it read.
    fn one_shot_proxy(reply: &'static str) -> (u16, std::thread::JoinHandle<String>) {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let head = read_head(&mut socket);
            socket.write_all(reply.as_bytes()).unwrap();
            String::from_utf8_lossy(&head).into_owned()
        });
        (port, seen)
    }

    #[test]
    fn proxy_failures_name_the_proxy_and_never_its_password_or_the_secret() {
        // Nothing listens on port 9: the proxy refuses the connection.
        let options = through("http://bob:PROXYPW@127.0.0.1:9");
        for url in
            ["http://127.0.0.1:1/cgi-bin/token?secret=TOPSECRET", "https://127.0.0.1:1/cgi-bin/token?secret=TOPSECRET"]
        {
            let err = send(&options, url, Body::None).unwrap_err();
            assert!(
                err.message.contains(" through the proxy http://127.0.0.1:9 (weixin.proxy) failed: "),
                "{}",
                err.message
            );
            assert!(!err.message.contains("PROXYPW") && !err.message.contains("TOPSECRET"), "{}", err.message);
        }
        // The proxy answers CONNECT with 407 (wrong password) or 502.
        for (reply, says) in [
            ("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n", "answered 407"),
            ("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", "would not open a tunnel"),
        ] {
            let (port, seen) = one_shot_proxy(reply);
            let options = through(&format!("http://bob:PROXY%2FPW@127.0.0.1:{port}"));
            let err = send(&options, "https://127.0.0.1:1/cgi-bin/token?secret=TOPSECRET", Body::None).unwrap_err();
            assert!(seen.join().unwrap().starts_with("CONNECT 127.0.0.1:1 HTTP/1.1\r\n"));
            assert!(err.message.contains(&format!("through the proxy http://127.0.0.1:{port} (weixin.proxy)")), "{}", err.message);
            assert!(err.message.contains(says), "{}", err.message);
            assert!(!err.message.contains("PROXY") && !err.message.contains("TOPSECRET"), "{}", err.message);
        }
    }

    #[test]
    fn proxy_credentials_are_percent_decoded_into_basic_auth() {
        let (port, seen) = one_shot_proxy("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        let options = through(&format!("http://bob:p%40ss%20w%25rd@127.0.0.1:{port}"));
        let reply = send(&options, "http://127.0.0.1:1/x?y=1", Body::None).unwrap();
        assert_eq!((reply.status, reply.body.as_slice()), (200, &b"ok"[..]));
        let head = seen.join().unwrap();
        assert!(head.starts_with("GET http://127.0.0.1:1/x?y=1 HTTP/1.1\r\n"), "{head}");
        // base64("bob:p@ss w%rd")
        let auth = head.lines().find(|line| line.to_ascii_lowercase().starts_with("proxy-authorization:"));
        assert_eq!(
            auth.map(|line| line[line.len() - 26..].to_string()),
            Some("Basic Ym9iOnBAc3MgdyVyZA==".into()),
            "{head}"
        );
    }

    #[test]
    fn clients_are_kept_per_proxy_up_to_a_bound() {
        for port in 1..=MAX_CLIENTS as u16 + 2 {
            let options = through(&format!("http://127.0.0.1:{port}"));
            client_for(&options).unwrap();
            client_for(&options).unwrap();
        }
        assert!(CLIENTS.lock().len() <= MAX_CLIENTS);
    }

    thread_local! {
        /// Run while a client is built (on the building thread).
        pub(super) static WHILE_BUILDING: std::cell::Cell<Option<fn()>> = const { std::cell::Cell::new(None) };
        static CLIENTS_FREE: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
    }

    #[test]
    fn no_lock_is_held_while_a_client_is_built() {
        fn probe() {
            // Other tests take the lock for a moment now and then: once free is enough.
            let free = (0..1000).any(|_| {
                let free = CLIENTS.try_lock().is_some();
                std::thread::yield_now();
                free
            });
            CLIENTS_FREE.set(Some(free));
        }
        WHILE_BUILDING.set(Some(probe));
        // A proxy no other test uses: a client is built.
        let built = client_for(&through("http://127.0.0.1:54321"));
        WHILE_BUILDING.set(None);
        built.unwrap();
        assert_eq!(CLIENTS_FREE.get(), Some(true), "the clients' lock was free while one was built");
    }

    #[test]
    fn a_client_built_meanwhile_by_another_thread_is_used_and_the_cap_kept() {
        let build = |port: u16| (through(&format!("http://127.0.0.1:{port}")), Client::new());
        let mut clients = Vec::new();
        let (options, built) = build(1);
        let (_, spare) = keep(&mut clients, &options, built);
        assert!(spare.is_none() && clients.len() == 1, "the first one built is kept");
        let (_, again) = build(1);
        let (_, spare) = keep(&mut clients, &options, again);
        assert!(spare.is_some() && clients.len() == 1, "one built meanwhile for the same settings is spare");
        for port in 2..=MAX_CLIENTS as u16 + 2 {
            let (options, built) = build(port);
            assert!(keep(&mut clients, &options, built).1.is_none());
        }
        assert_eq!(clients.len(), MAX_CLIENTS, "settings past the cap get a client of their own, not kept");
    }

    /// A server on loopback that reads one request head and answers
    /// `status_and_headers` and `body` (chunked when the head says so);
    /// whether it could write it all (the client may drop the connection).
    fn one_shot_server(head: &'static str, body: Vec<u8>) -> (u16, std::thread::JoinHandle<bool>) {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let wrote = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            read_head(&mut socket);
            let mut reply = head.as_bytes().to_vec();
            if head.contains("chunked") {
                for piece in body.chunks(10_000) {
                    reply.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    reply.extend_from_slice(piece);
                    reply.extend_from_slice(b"\r\n");
                }
                reply.extend_from_slice(b"0\r\n\r\n");
            } else {
                reply.extend_from_slice(body.as_slice());
            }
            socket.write_all(&reply).is_ok()
        });
        (port, wrote)
    }

    fn limited(bytes: u64) -> HttpOptions {
        HttpOptions {
            timeout: Duration::from_secs(30),
            timeout_setting: "weixin.timeout",
            reply_limit: crate::config::ReplyLimit { bytes, named: "weixin.max_reply_size" },
            ca_file: None,
            proxy: None,
        }
    }

    const SIZED: &str = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n";
    const CHUNKED: &str = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

    fn pattern(length: usize) -> Vec<u8> {
        (0..length).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn a_reply_is_read_whole_up_to_the_limit_and_dropped_past_it_naming_the_limit_and_never_the_query() {
        for head in [SIZED, CHUNKED] {
            let (port, wrote) = one_shot_server(head, pattern(100_000));
            let reply = send(&limited(100_000), &format!("http://127.0.0.1:{port}/media?secret=TOPSECRET"), Body::None)
                .unwrap_or_else(|e| panic!("{head}: {}", e.message));
            assert!(wrote.join().unwrap());
            assert_eq!((reply.status, reply.body == pattern(100_000)), (200, true), "{head}");
        }
        for (head, says) in [
            (SIZED, "it announced 100000 bytes, over weixin.max_reply_size (99999 bytes)"),
            (CHUNKED, "it went on past weixin.max_reply_size (99999 bytes)"),
        ] {
            let (port, wrote) = one_shot_server(head, pattern(100_000));
            let url = format!("http://127.0.0.1:{port}/media?secret=TOPSECRET");
            let err = send(&limited(99_999), &url, Body::None).unwrap_err();
            wrote.join().unwrap();
            assert_eq!(
                err.message,
                format!("the reply of http://127.0.0.1:{port}/media was dropped: {says}"),
                "{head}"
            );
        }
        // A token or ticket reply has a small limit of its own.
        let (port, wrote) = one_shot_server(SIZED, pattern(100_000));
        let options = HttpOptions { reply_limit: crate::config::TOKEN_REPLY_LIMIT, ..limited(0) };
        let err =
            send(&options, &format!("http://127.0.0.1:{port}/cgi-bin/token?secret=TOPSECRET"), Body::None).unwrap_err();
        wrote.join().unwrap();
        assert!(err.message.contains("over the limit of a token or ticket reply (65536 bytes)"), "{}", err.message);
    }

    /// A sink that takes `room` bytes at most, as PHP's memory_limit would.
    struct Room {
        room: u64,
        taken: u64,
    }

    impl ReplySink for Room {
        fn announced(&mut self, length: u64) -> Result<(), String> {
            if length > self.room {
                return Err(format!("{length} bytes announced, room for {}", self.room));
            }
            Ok(())
        }

        fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
            self.taken += bytes.len() as u64;
            if self.taken > self.room {
                return Err(format!("no room past {}", self.room));
            }
            Ok(())
        }
    }

    #[test]
    fn a_sink_that_refuses_drops_the_reply_with_its_reason() {
        for (head, says) in [(SIZED, "100000 bytes announced, room for 50000"), (CHUNKED, "no room past 50000")] {
            let (port, wrote) = one_shot_server(head, pattern(100_000));
            let mut sink = Room { room: 50_000, taken: 0 };
            let url = format!("http://127.0.0.1:{port}/media");
            let err = send_to(&limited(1 << 20), &url, Body::None, &mut sink).unwrap_err();
            wrote.join().unwrap();
            assert!(err.message.ends_with(&format!("/media was dropped: {says}")), "{head}: {}", err.message);
            assert!(sink.taken <= 50_000 + READ_PIECE as u64, "{head}: read on after the refusal");
        }
    }

    #[test]
    fn a_ca_file_must_be_a_regular_file_of_bounded_size() {
        let dir = std::env::temp_dir().join(format!("weixin-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        let _ = std::fs::remove_file(&fifo);
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let big = dir.join("big.pem");
        std::fs::write(&big, vec![b'#'; MAX_CA_FILE as usize + 1]).unwrap();
        for (path, says) in [
            ("/dev/zero", "not a regular file"),
            (fifo.to_str().unwrap(), "not a regular file"),
            (dir.to_str().unwrap(), "not a regular file"),
            (big.to_str().unwrap(), "bytes, over the"),
        ] {
            let err = read_ca_file(path).unwrap_err();
            assert!(
                err.message.starts_with("weixin.ca_file: ") && err.message.contains(says),
                "{path}: {}",
                err.message
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unreadable_ca_file_is_a_clear_error() {
        let options = HttpOptions {
            timeout: Duration::from_secs(1),
            timeout_setting: "weixin.timeout",
            reply_limit: crate::config::TOKEN_REPLY_LIMIT,
            ca_file: Some("/nonexistent/ca.pem".into()),
            proxy: None,
        };
        let err = send(&options, "https://127.0.0.1:9/", Body::None).unwrap_err();
        assert!(err.message.contains("weixin.ca_file"), "{}", err.message);
    }
}
