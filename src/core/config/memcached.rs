//! Where memcached is and how to talk to it: `weixin.memcache_servers`,
//! `weixin.memcache_protocol` and `weixin.memcache_distribution`.

use std::fmt;

use crate::error::WeixinError;

/// One memcached server as written in `weixin.memcache_servers`.
///
/// `host` is kept exactly as written: the PECL memcache client hashes the
/// host string, so `localhost` and `127.0.0.1` are different servers to it.
/// A unix socket is written as PECL memcache writes it, `unix:///path`: its
/// host is that whole string and its port 0, as that client keeps them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerAddr {
    pub host: String,
    pub port: u16,
}

const UNIX_SCHEME: &str = "unix://";

impl ServerAddr {
    /// The socket's path, for a unix socket.
    pub fn unix_path(&self) -> Option<&str> {
        self.host.strip_prefix(UNIX_SCHEME)
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unix_path().is_some() {
            f.write_str(&self.host)
        } else if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses `host:port, host2:port2, [::1]:11211, unix:///run/memcached.sock`;
/// the port defaults to 11211.
pub fn parse_servers(list: &str) -> Result<Vec<ServerAddr>, WeixinError> {
    let servers: Vec<ServerAddr> =
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse_server).collect::<Result<_, _>>()?;
    if servers.is_empty() {
        return Err(WeixinError::config(
            "weixin.memcache_servers is empty: list at least one host:port or unix:///path",
        ));
    }
    Ok(servers)
}

fn parse_server(entry: &str) -> Result<ServerAddr, WeixinError> {
    let bad = || WeixinError::config(format!("weixin.memcache_servers: '{entry}' is not host:port or unix:///path"));
    if let Some(path) = entry.strip_prefix(UNIX_SCHEME) {
        // An absolute path, nothing a list or a port could be read into.
        let path_ok = path.starts_with('/') && path.len() > 1 && !path.bytes().any(|b| b.is_ascii_control());
        return if path_ok { Ok(ServerAddr { host: entry.to_string(), port: 0 }) } else { Err(bad()) };
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        (host, after.strip_prefix(':'))
    } else {
        match entry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (entry, None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
        None => 11211,
    };
    let host_ok = !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    if !host_ok {
        return Err(bad());
    }
    Ok(ServerAddr { host: host.to_string(), port })
}

/// `weixin.memcache_protocol`: which commands the extension sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemcacheProtocol {
    /// Asks each server once (a meta no-op): meta where it answers, classic
    /// text commands elsewhere (memcached 1.4/1.5, twemproxy, mcrouter,
    /// managed services).
    Auto,
    /// Meta commands only (memcached 1.6+, its built-in proxy).
    Meta,
    /// Classic text commands only.
    Text,
}

pub fn parse_protocol(value: &str) -> Result<MemcacheProtocol, WeixinError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "auto" | "" => Ok(MemcacheProtocol::Auto),
        "meta" => Ok(MemcacheProtocol::Meta),
        "text" => Ok(MemcacheProtocol::Text),
        _ => Err(WeixinError::config(format!(
            "weixin.memcache_protocol is '{}': use auto, meta or text",
            value.trim().escape_default()
        ))),
    }
}

/// `weixin.memcache_distribution`: which legacy client's placement a key
/// follows over several servers, so that both find one token on one server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemcacheDistribution {
    /// PECL memcache (`new Memcache`): its default consistent crc32 ring.
    Memcache,
    /// PECL memcached (`new Memcached`) with default options: libmemcached's
    /// one-at-a-time hash modulo the number of servers.
    Memcached,
}

pub fn parse_distribution(value: &str) -> Result<MemcacheDistribution, WeixinError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "memcache" | "" => Ok(MemcacheDistribution::Memcache),
        "memcached" => Ok(MemcacheDistribution::Memcached),
        _ => Err(WeixinError::config(format!(
            "weixin.memcache_distribution is '{}': use memcache (where PECL memcache's Memcache puts a key) \
             or memcached (where PECL memcached's Memcached puts it with default options)",
            value.trim().escape_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_lists_parse_with_default_ports_ipv6_and_unix_sockets() {
        let servers = parse_servers(" a:1, b ,[::1]:11212, unix:///run/memcached.sock,").unwrap();
        assert_eq!(servers[0], ServerAddr { host: "a".into(), port: 1 });
        assert_eq!(servers[1], ServerAddr { host: "b".into(), port: 11211 });
        assert_eq!(servers[2], ServerAddr { host: "::1".into(), port: 11212 });
        assert_eq!(servers[2].to_string(), "[::1]:11212");
        assert_eq!(servers[3], ServerAddr { host: "unix:///run/memcached.sock".into(), port: 0 });
        assert_eq!(servers[3].unix_path(), Some("/run/memcached.sock"));
        assert_eq!(servers[3].to_string(), "unix:///run/memcached.sock");
        assert_eq!(servers[0].unix_path(), None);
    }

    #[test]
    fn bad_server_entries_are_refused_naming_the_setting() {
        for bad in ["", " , ", "a:0", "a:x", "a b:1", "a:99999", "[::1", "unix://", "unix:///", "unix://run/m.sock"] {
            let error = parse_servers(bad).expect_err(bad);
            assert!(error.to_string().contains("weixin.memcache_servers"), "{error}");
        }
    }

    #[test]
    fn protocols_parse_and_others_are_refused_naming_the_setting() {
        assert_eq!(parse_protocol("auto").unwrap(), MemcacheProtocol::Auto);
        assert_eq!(parse_protocol(" Meta ").unwrap(), MemcacheProtocol::Meta);
        assert_eq!(parse_protocol("text").unwrap(), MemcacheProtocol::Text);
        let error = parse_protocol("binary").unwrap_err().to_string();
        assert!(error.contains("weixin.memcache_protocol") && error.contains("auto, meta or text"), "{error}");
    }

    #[test]
    fn distributions_parse_and_others_are_refused_naming_the_setting() {
        assert_eq!(parse_distribution("").unwrap(), MemcacheDistribution::Memcache);
        assert_eq!(parse_distribution("memcache").unwrap(), MemcacheDistribution::Memcache);
        assert_eq!(parse_distribution(" Memcached ").unwrap(), MemcacheDistribution::Memcached);
        for bad in ["modula", "consistent", "memcached,", "ketama"] {
            let error = parse_distribution(bad).unwrap_err().to_string();
            assert!(error.starts_with("weixin.memcache_distribution is") && error.contains("memcache"), "{error}");
        }
    }
}
