//! A map that keeps only the entries used last, up to `LIMIT`: what a
//! process keeps per memcached server or server list. `ini_set()` can spell
//! one server in endless ways (`localhost`, `127.0.0.1`, `127.1`, other
//! ports in front of it), and each spelling is a server of its own here (PECL
//! memcache hashes the spelling), so without a bound a long-lived worker
//! would keep a socket for every spelling it was ever given.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

pub struct Recent<K, V, const LIMIT: usize> {
    /// Bumped on every use: the entry with the smallest mark was used
    /// longest ago.
    clock: u64,
    entries: HashMap<K, (u64, V)>,
}

impl<K, V, const LIMIT: usize> Default for Recent<K, V, LIMIT> {
    fn default() -> Self {
        Recent { clock: 0, entries: HashMap::new() }
    }
}

impl<K: Hash + Eq, V, const LIMIT: usize> Recent<K, V, LIMIT> {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry under `key`, marked as used now.
    #[cfg(test)]
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.clock += 1;
        let (used, value) = self.entries.get_mut(key)?;
        *used = self.clock;
        Some(value)
    }

    /// The entry under `key` as it is, not marked as used.
    pub fn peek_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_mut(key).map(|(_, value)| value)
    }

    /// The entry under `key`, used now; one made by `make` when there is
    /// none. At the limit, the entry used longest ago makes room and is
    /// returned, so that the caller drops it (closes its socket) outside
    /// its lock.
    pub fn get_or_insert_with<Q>(&mut self, key: &Q, make: impl FnOnce() -> V) -> (&mut V, Option<V>)
    where
        K: Borrow<Q> + Clone,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        let mut evicted = None;
        if !self.entries.contains_key(key) {
            if self.entries.len() >= LIMIT {
                // A scan of at most LIMIT marks, only when a new key comes in.
                let oldest = self.entries.iter().min_by_key(|(_, (used, _))| *used).map(|(key, _)| K::clone(key));
                evicted = oldest.and_then(|oldest| self.entries.remove::<K>(&oldest)).map(|(_, value)| value);
            }
            self.entries.insert(key.to_owned(), (0, make()));
        }
        self.clock += 1;
        let (used, value) = self.entries.get_mut(key).expect("found, or inserted just above");
        *used = self.clock;
        (value, evicted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_the_entry_used_longest_ago_goes() {
        let mut recent: Recent<String, u32, 3> = Recent::default();
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            assert!(recent.get_or_insert_with(key, || i as u32).1.is_none());
        }
        // "a" is used again, so "b" is now the one used longest ago.
        assert_eq!(recent.get_mut("a").copied(), Some(0));
        assert_eq!(recent.get_or_insert_with("d", || 3).1, Some(1), "b goes");
        assert_eq!(recent.len(), 3);
        assert!(recent.get_mut("b").is_none());
        // Peeking is no use: "c" goes next although just peeked at.
        assert_eq!(recent.peek_mut("c").copied(), Some(2));
        assert_eq!(recent.get_or_insert_with("e", || 4).1, Some(2), "c goes");
        // A key already there evicts nothing and keeps its value.
        assert_eq!(recent.get_or_insert_with("e", || 9), (&mut 4, None));
        let kept: Vec<u32> = ["a", "d", "e"].iter().filter_map(|key| recent.get_mut(*key).copied()).collect();
        assert_eq!(kept, [0, 3, 4]);
    }

    #[test]
    fn a_thousand_keys_keep_at_most_the_limit() {
        let mut recent: Recent<u32, (), 32> = Recent::default();
        let evicted = (0..1000).filter(|&key| recent.get_or_insert_with(&key, || ()).1.is_some()).count();
        assert_eq!((recent.len(), evicted), (32, 1000 - 32));
        assert!((1000 - 32..1000).all(|key| recent.get_mut(&key).is_some()), "the last 32 stay");
    }
}
