//! A hash that every process computes alike: FNV-1a over what `Hash` feeds it.
//!
//! Routing records to workers by key needs a hash that is the same on every process, every
//! host and every Rust release. `DefaultHasher` promises none of that. FNV-1a does, for any
//! key whose `Hash` implementation writes the same bytes everywhere (integers, strings,
//! tuples and derived impls of them do).

use std::hash::{BuildHasher, Hash, Hasher};

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// An FNV-1a [`Hasher`].
#[derive(Debug, Clone, Copy)]
pub struct StableHasher(u64);

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher(OFFSET)
    }
}

impl Hasher for StableHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`StableHasher`]s, for hash maps that should not pay for SipHash.
#[derive(Debug, Clone, Copy, Default)]
pub struct StableBuildHasher;

impl BuildHasher for StableBuildHasher {
    type Hasher = StableHasher;

    fn build_hasher(&self) -> StableHasher {
        StableHasher::default()
    }
}

/// The stable hash of `key`.
///
/// ```
/// use timely_kafka_operators::stable_hash;
///
/// // The same on every process, host and Rust release.
/// assert_eq!(stable_hash(&("orders", 3)), stable_hash(&("orders", 3)));
/// assert_ne!(stable_hash(&("orders", 3)), stable_hash(&("orders", 4)));
/// ```
pub fn stable_hash<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut hasher = StableHasher::default();
    key.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_values_do_not_change() {
        // If these change, processes running different builds route keys differently.
        assert_eq!(stable_hash(&0u64), 0xa8c7_f832_281a_39c5);
        assert_eq!(stable_hash("orders"), stable_hash(&String::from("orders")));
    }
}
