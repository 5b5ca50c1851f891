//! HTTP(S) to WeChat: one lazily built `reqwest` blocking client per process.
//!
//! The blocking client owns a runtime thread. Threads do not survive
//! `fork()`, so a client inherited from a parent (php-fpm master,
//! `pcntl_fork`) is never used or dropped in the child: it is forgotten and a
//! new one is built there. Certificates are always verified, against the
//! system store plus the optional `weixin.ca_file`.

use std::time::Duration;

use reqwest::blocking::{multipart, Client};

use crate::error::WeixinError;
use crate::process::{Inherited, PerProcess};

/// How a request is made. The timeout is per request; only the CA file
/// shapes the client (a change rebuilds it), so token requests and
/// `http_request()` calls with other timeouts share one client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    pub timeout: Duration,
    /// The setting that gives `timeout`, named when it is reached.
    pub timeout_setting: &'static str,
    pub ca_file: Option<String>,
}

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

struct ProcessClient {
    ca_file: Option<String>,
    client: Client,
}

/// A child of fork() builds its own: the parent's is never used or dropped
/// there (dropping it waits for a runtime thread that did not come along).
static CLIENT: PerProcess<Option<ProcessClient>> = PerProcess::new(Inherited::Kept);

const USER_AGENT: &str = concat!("weixin-php/", env!("CARGO_PKG_VERSION"));

/// Sends one request. The error text never contains the URL's query, which
/// may carry the AppSecret.
pub fn send(options: &HttpOptions, url: &str, body: Body) -> Result<Response, WeixinError> {
    let client = client_for(options)?;
    let shown = display_url(url);
    let request = match body {
        Body::None => client.get(url),
        Body::Raw(bytes) => client
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(bytes),
        Body::Json(bytes) => client.post(url).header("Content-Type", "application/json").body(bytes),
        Body::Form(fields) => client.post(url).multipart(build_form(fields)?),
    };
    let response = request
        .timeout(options.timeout)
        .send()
        .map_err(|e| WeixinError::local(format!("request to {} failed: {}", shown, describe(e, options))))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .map_err(|e| WeixinError::local(format!("reading the reply of {} failed: {}", shown, describe(e, options))))?;
    Ok(Response {
        status,
        body: body.to_vec(),
    })
}

/// The client of this process for these options, built on first use.
fn client_for(options: &HttpOptions) -> Result<Client, WeixinError> {
    let mut slot = CLIENT.lock();
    if let Some(current) = slot.as_ref() {
        if current.ca_file == options.ca_file {
            return Ok(current.client.clone());
        }
    }
    let client = build_client(options)?;
    *slot = Some(ProcessClient {
        ca_file: options.ca_file.clone(),
        client: client.clone(),
    });
    Ok(client)
}

fn build_client(options: &HttpOptions) -> Result<Client, WeixinError> {
    let mut builder = Client::builder()
        .user_agent(USER_AGENT)
        // curl does not follow redirects either; a redirect must never carry
        // the token URL (and its secret) to another host.
        .redirect(reqwest::redirect::Policy::none())
        .https_only(false);
    if let Some(path) = &options.ca_file {
        let pem = read_ca_file(path)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            WeixinError::config(format!("weixin.ca_file: '{path}' is not a PEM bundle: {e}"))
        })?;
        if certs.is_empty() {
            return Err(WeixinError::config(format!(
                "weixin.ca_file: '{path}' holds no certificate"
            )));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
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
            FormField::Bytes {
                name,
                value,
                filename,
                mime,
            } => form.part(name, named_part(multipart::Part::bytes(value), filename, mime)?),
            FormField::File {
                name,
                path,
                filename,
                mime,
            } => {
                let part = multipart::Part::file(&path).map_err(|e| {
                    WeixinError::local(format!("cannot read the upload file '{path}': {e}"))
                })?;
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
    part.mime_str(&mime)
        .map_err(|_| WeixinError::local(format!("'{mime}' is not a valid MIME type")))
}

/// The URL as it may be shown: scheme, host and path, never the query.
fn display_url(url: &str) -> &str {
    url.split_once('?').map_or(url, |(head, _)| head)
}

/// A reqwest error without its URL, with its causes, on one line.
fn describe(error: reqwest::Error, options: &HttpOptions) -> String {
    let timed_out = error.is_timeout();
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    if timed_out {
        text.push_str(&format!(
            " (timed out after {:?}; see {})",
            options.timeout, options.timeout_setting
        ));
    }
    if text.contains("certificate") || text.contains("UnknownIssuer") {
        text.push_str(" (certificate not trusted; see weixin.ca_file)");
    }
    text
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_keeps_unreserved_only() {
        assert_eq!(url_encode("wx12_ab-c.d~"), "wx12_ab-c.d~");
        assert_eq!(url_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn display_url_drops_the_query() {
        assert_eq!(display_url("https://h/cgi-bin/token?secret=x"), "https://h/cgi-bin/token");
    }

    #[test]
    fn transport_errors_never_show_the_query() {
        let options = HttpOptions {
            timeout: Duration::from_millis(300),
            timeout_setting: "weixin.timeout",
            ca_file: None,
        };
        // Port 9 on loopback: nothing listens, the connection is refused.
        let err = send(&options, "http://127.0.0.1:9/cgi-bin/token?secret=TOPSECRET", Body::None)
            .unwrap_err();
        assert!(!err.message.contains("TOPSECRET"), "{}", err.message);
        assert!(err.message.contains("http://127.0.0.1:9/cgi-bin/token"), "{}", err.message);
        assert_eq!(err.code, 0);
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
            assert!(err.message.starts_with("weixin.ca_file: ") && err.message.contains(says), "{path}: {}", err.message);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unreadable_ca_file_is_a_clear_error() {
        let options = HttpOptions {
            timeout: Duration::from_secs(1),
            timeout_setting: "weixin.timeout",
            ca_file: Some("/nonexistent/ca.pem".into()),
        };
        let err = send(&options, "https://127.0.0.1:9/", Body::None).unwrap_err();
        assert!(err.message.contains("weixin.ca_file"), "{}", err.message);
    }
}
