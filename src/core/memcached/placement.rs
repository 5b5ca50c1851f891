//! Which of several memcached servers holds a key: where the legacy PHP
//! client named by `weixin.memcache_distribution` puts it, so that legacy
//! code and this extension find one token on one server.
//!
//! - `memcache`: PECL memcache's default consistent crc32 ring (`ring`).
//! - `memcached`: PECL memcached with default options. It sets no hash and
//!   no distribution of its own (unless `memcached.default_consistent_hash`
//!   is on), so libmemcached's defaults apply: the one-at-a-time hash of the
//!   key, modulo the number of servers, in the order they were added. Host
//!   names play no part: only the order and the count of the list do.

use super::recent::Recent;
use super::ring::Ring;
use crate::config::{MemcacheDistribution, ServerAddr};

/// Server lists a process keeps a ring for, those used last: a ring costs
/// 8 KiB and is rebuilt in microseconds, and `ini_set()` may give a worker
/// any number of lists.
const MAX_RINGS: usize = 16;

/// This process's rings, each built once per server list.
#[derive(Default)]
pub struct Placements {
    rings: Recent<Vec<ServerAddr>, Ring, MAX_RINGS>,
}

impl Placements {
    /// Index into `servers` of the server that holds `key`.
    pub fn server_for(&mut self, distribution: MemcacheDistribution, servers: &[ServerAddr], key: &str) -> usize {
        if servers.len() < 2 {
            return 0;
        }
        match distribution {
            MemcacheDistribution::Memcache => {
                self.rings.get_or_insert_with(servers, || Ring::new(servers)).0.server_for(key)
            }
            MemcacheDistribution::Memcached => modula(servers.len(), key),
        }
    }
}

/// libmemcached's `MEMCACHED_DISTRIBUTION_MODULA` with its default hash.
fn modula(servers: usize, key: &str) -> usize {
    // A u32 hash modulo a count that fits in usize: the index fits too.
    (one_at_a_time(key.as_bytes()) as usize) % servers
}

/// Bob Jenkins' one-at-a-time hash, libhashkit's default. It adds each byte
/// as a C `char`, which is signed on x86: a byte over 0x7F counts as
/// negative. (This extension's keys are printable ASCII, so that never
/// decides anything here.)
fn one_at_a_time(key: &[u8]) -> u32 {
    let mut hash = 0u32;
    for &byte in key {
        hash = hash.wrapping_add(byte as i8 as u32);
        hash = hash.wrapping_add(hash << 10);
        hash ^= hash >> 6;
    }
    hash = hash.wrapping_add(hash << 3);
    hash ^= hash >> 11;
    hash.wrapping_add(hash << 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(ports: std::ops::RangeInclusive<u16>) -> Vec<ServerAddr> {
        ports.map(|port| ServerAddr { host: "127.0.0.1".into(), port }).collect()
    }

    fn unix(path: &str) -> ServerAddr {
        ServerAddr { host: format!("unix://{path}"), port: 0 }
    }

    /// Which server (a digit) holds each of `keys`.
    fn placed(distribution: MemcacheDistribution, servers: &[ServerAddr], keys: &[String]) -> String {
        let mut placements = Placements::default();
        keys.iter().map(|key| char::from(b'0' + placements.server_for(distribution, servers, key) as u8)).collect()
    }

    fn numbered(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("key{i}")).collect()
    }

    /// The whole 32-bit hash, read from the real client: `getServerByKey()`
    /// over 4096, 4095 and 4093 servers gives it modulo each, hence whole
    /// (libhashkit's own `libhashkit_one_at_a_time()` agrees).
    #[test]
    fn one_at_a_time_matches_libhashkit() {
        for (key, hash) in [
            (&b"a"[..], 0xCA2E_9442),
            (b"access_token", 0x967F_0AF4),
            (b"key0", 0x7461_4706),
            (b"wx_{appid}_token", 0xC5C8_CBFF),
            // "k中": bytes over 0x7F count as negative.
            (b"k\xe4\xb8\xad", 0x744D_4318),
        ] {
            assert_eq!(one_at_a_time(key), hash, "{}", key.escape_ascii());
        }
    }

    /// Recorded with PHP 8.2, PECL memcached 3.2.0 and libmemcached 1.1.4
    /// (`new Memcached`, default options): `addServer()` of each server in
    /// order, then `getServerByKey("key$i")` for i in 0..60.
    /// (php-tests/pecl_memcached_interop.phpt checks where the real client
    /// stores keys against the extension.)
    #[test]
    fn keys_land_where_pecl_memcached_puts_them() {
        let keys = numbered(60);
        for (servers, recorded) in [
            (tcp(21211..=21212), "001101001100111010010011001101100000110011011100100011100111"),
            (tcp(21211..=21213), "222222211101000001112221111111000121122212222202201111000000"),
            (tcp(21211..=21215), "032404414124100323240334420331043001230101431414121122402404"),
        ] {
            assert_eq!(placed(MemcacheDistribution::Memcached, &servers, &keys), recorded, "{servers:?}");
        }
    }

    #[test]
    fn under_modula_only_the_order_and_count_of_servers_matter() {
        let keys = numbered(200);
        let tcp_only = tcp(21211..=21213);
        // addServer('/run/memcached.sock', 0) in the legacy code, first.
        let with_socket = [unix("/run/memcached.sock"), tcp_only[1].clone(), tcp_only[2].clone()];
        let named = [("a", 1), ("b", 2), ("c", 3)].map(|(host, port)| ServerAddr { host: host.into(), port });
        let expected = placed(MemcacheDistribution::Memcached, &tcp_only, &keys);
        assert_eq!(placed(MemcacheDistribution::Memcached, &with_socket, &keys), expected);
        assert_eq!(placed(MemcacheDistribution::Memcached, &named, &keys), expected);
    }

    #[test]
    fn rings_are_kept_for_the_lists_used_last() {
        let mut placements = Placements::default();
        let lists: Vec<Vec<ServerAddr>> = (0..100).map(|i| tcp(1000 + i..=1001 + i)).collect();
        for (i, servers) in lists.iter().enumerate() {
            let expected = Ring::new(servers).server_for("k");
            assert_eq!(placements.server_for(MemcacheDistribution::Memcache, servers, "k"), expected, "list {i}");
        }
        assert_eq!(placements.rings.len(), MAX_RINGS);
        // The first list, dropped meanwhile, places keys as before.
        let expected = Ring::new(&lists[0]).server_for("k");
        assert_eq!(placements.server_for(MemcacheDistribution::Memcache, &lists[0], "k"), expected);
        assert_eq!(placements.rings.len(), MAX_RINGS);
    }

    #[test]
    fn one_server_takes_every_key_and_the_default_is_the_ring() {
        let keys = numbered(20);
        assert_eq!(placed(MemcacheDistribution::Memcached, &tcp(1..=1), &keys), "0".repeat(20));
        let servers = tcp(21211..=21213);
        let ring = Ring::new(&servers);
        let from_ring: String = keys.iter().map(|key| char::from(b'0' + ring.server_for(key) as u8)).collect();
        assert_eq!(placed(MemcacheDistribution::Memcache, &servers, &keys), from_ring);
        assert_ne!(placed(MemcacheDistribution::Memcached, &servers, &keys), from_ring);
    }
}
