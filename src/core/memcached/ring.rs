//! Which memcached server holds a key: the same consistent-hashing ring as
//! the PECL memcache extension's default (`memcache.hash_strategy=consistent`,
//! `memcache.hash_function=crc32`), so that legacy PHP code and this
//! extension find one token on one server during a migration.
//!
//! The PECL client places 160 points per server (weight 1), each the crc32 of
//! `"host:port-N"`, then answers lookups from 1024 precomputed buckets.

use crate::config::ServerAddr;

const POINTS_PER_SERVER: u32 = 160;
const BUCKETS: u32 = 1024;

pub struct Ring {
    /// Server index for each bucket; empty with a single server.
    buckets: Vec<usize>,
}

impl Ring {
    pub fn new(servers: &[ServerAddr]) -> Ring {
        if servers.len() < 2 {
            return Ring { buckets: vec![] };
        }
        let mut points: Vec<(u32, usize)> = Vec::with_capacity(servers.len() * POINTS_PER_SERVER as usize);
        for (index, server) in servers.iter().enumerate() {
            let prefix = format!("{}:{}-", server.host, server.port);
            for n in 0..POINTS_PER_SERVER {
                points.push((crc32(format!("{prefix}{n}").as_bytes()), index));
            }
        }
        // The C client sorts with qsort on the point only; ties are
        // vanishingly rare and their order is unspecified there too.
        points.sort_by_key(|&(point, _)| point);
        let step = u32::MAX / BUCKETS;
        let buckets = (0..BUCKETS).map(|i| find(&points, step.wrapping_mul(i))).collect();
        Ring { buckets }
    }

    /// Index into the server list of the server that holds `key`.
    pub fn server_for(&self, key: &str) -> usize {
        if self.buckets.is_empty() {
            return 0;
        }
        self.buckets[(crc32(key.as_bytes()) % BUCKETS) as usize]
    }
}

/// The first point at or after `hash`, wrapping around the ring.
fn find(points: &[(u32, usize)], hash: u32) -> usize {
    let at = points.partition_point(|&(point, _)| point < hash);
    points.get(at).unwrap_or(&points[0]).1
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// IEEE CRC-32, as PHP's `crc32()`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc = CRC_TABLE[((crc ^ byte as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(list: &[(&str, u16)]) -> Vec<ServerAddr> {
        list.iter().map(|(h, p)| ServerAddr { host: h.to_string(), port: *p }).collect()
    }

    #[test]
    fn crc32_matches_php() {
        // php -r 'echo crc32("The quick brown fox jumped over the lazy dog.");'
        assert_eq!(crc32(b"The quick brown fox jumped over the lazy dog."), 2191738434);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn one_server_takes_every_key() {
        let ring = Ring::new(&servers(&[("a", 1)]));
        assert_eq!(ring.server_for("anything"), 0);
    }

    #[test]
    fn keys_spread_and_stay_put_when_a_server_is_added() {
        let three = Ring::new(&servers(&[("10.0.0.1", 11211), ("10.0.0.2", 11211), ("10.0.0.3", 11211)]));
        let four =
            Ring::new(&servers(&[("10.0.0.1", 11211), ("10.0.0.2", 11211), ("10.0.0.3", 11211), ("10.0.0.4", 11211)]));
        let mut counts = [0; 3];
        let mut moved = 0;
        for i in 0..3000 {
            let key = format!("key{i}");
            let s = three.server_for(&key);
            counts[s] += 1;
            let t = four.server_for(&key);
            if t != s {
                assert_eq!(t, 3, "a key moved between old servers");
                moved += 1;
            }
        }
        assert!(counts.iter().all(|&c| c > 500), "{counts:?}");
        assert!(moved > 300 && moved < 1500, "{moved}");
    }
}

#[cfg(test)]
mod pecl_memcache_compat {
    use super::*;

    /// Recorded with PHP 8.2 and PECL memcache 8 (hash_strategy=consistent,
    /// hash_function=crc32): `addServer("127.0.0.1", 21211..21213)`, then
    /// `set("key$i")` for i in 0..60, and which server holds each key.
    const PECL_PLACEMENT: &str = "111122210212010020101221000000121212222102001211212021210000";

    #[test]
    fn keys_land_where_pecl_memcache_puts_them() {
        let servers: Vec<ServerAddr> =
            (21211..=21213).map(|port| ServerAddr { host: "127.0.0.1".into(), port }).collect();
        let ring = Ring::new(&servers);
        let ours: String = (0..60).map(|i| char::from(b'0' + ring.server_for(&format!("key{i}")) as u8)).collect();
        assert_eq!(ours, PECL_PLACEMENT);
    }

    /// Recorded likewise with `addServer("unix:///tmp/wx-ring/memcached.sock", 0)`
    /// (a memcached on that socket), then `127.0.0.1` 21211 and 21212: PECL
    /// memcache hashes a socket as its whole `unix://` host and port 0,
    /// `"unix:///tmp/wx-ring/memcached.sock:0-N"`.
    const PECL_PLACEMENT_WITH_A_SOCKET: &str = "202220221220021111212002111111210020001010110102020122121111";

    #[test]
    fn a_unix_socket_is_hashed_as_pecl_memcache_hashes_it() {
        let socket = ServerAddr { host: "unix:///tmp/wx-ring/memcached.sock".into(), port: 0 };
        let tcp = (21211..=21212).map(|port| ServerAddr { host: "127.0.0.1".into(), port });
        let ring = Ring::new(&std::iter::once(socket).chain(tcp).collect::<Vec<_>>());
        let ours: String = (0..60).map(|i| char::from(b'0' + ring.server_for(&format!("key{i}")) as u8)).collect();
        assert_eq!(ours, PECL_PLACEMENT_WITH_A_SOCKET);
    }
}
