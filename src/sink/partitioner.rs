//! Choosing an output partition: Java-compatible murmur2 (the default), CRC32, md5 (Kaffe's
//! default), round-robin, random, or a function of your own. A record with an explicit
//! partition skips the partitioner.
//!
//! Hash partitioners send records with a null key to a random partition, as librdkafka's
//! `murmur2_random` and `consistent_random` do.

use std::fmt;
use std::sync::Arc;

use md5::{Digest, Md5};

/// A user partitioner: `(key, partition count) -> partition`. It must return a value in
/// `0..partition count`; anything else is an error naming the topic.
pub type PartitionFn = Arc<dyn Fn(Option<&[u8]>, i32) -> i32 + Send + Sync>;

/// How the sink picks a partition for a record without an explicit one.
#[derive(Clone, Default)]
pub enum Partitioner {
    /// `murmur2(key) & 0x7fffffff % partitions`: where the Java client (and librdkafka's
    /// `murmur2_random`) put a key, so producers in any language agree.
    #[default]
    Murmur2,
    /// `crc32(key) % partitions`: librdkafka's `consistent`.
    Crc32,
    /// The first 4 bytes of `md5(key)`, big-endian, modulo partitions: Kaffe's default.
    Md5,
    /// Each record to the next partition in turn.
    RoundRobin,
    /// Each record to a random partition.
    Random,
    /// A function of your own.
    Custom(PartitionFn),
}

impl fmt::Debug for Partitioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Partitioner::Murmur2 => "Murmur2",
            Partitioner::Crc32 => "Crc32",
            Partitioner::Md5 => "Md5",
            Partitioner::RoundRobin => "RoundRobin",
            Partitioner::Random => "Random",
            Partitioner::Custom(_) => "Custom(..)",
        })
    }
}

/// Per-worker state of the stateful partitioners.
#[derive(Debug, Clone)]
pub(crate) struct PartitionerState {
    next: u64,
    rng: u64,
}

impl PartitionerState {
    pub(crate) fn new(seed: u64) -> Self {
        PartitionerState {
            next: seed,
            rng: seed | 1,
        }
    }

    /// xorshift64*: fast, and good enough to spread records.
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

impl Partitioner {
    /// The partition for `key` among `partitions` (at least 1).
    pub(crate) fn partition(
        &self,
        key: Option<&[u8]>,
        partitions: i32,
        state: &mut PartitionerState,
    ) -> i32 {
        let n = partitions.max(1) as u32;
        let random = |state: &mut PartitionerState| (state.random() % u64::from(n)) as i32;
        match (self, key) {
            (Partitioner::Murmur2, Some(key)) => murmur2_partition(key, partitions),
            (Partitioner::Crc32, Some(key)) => (crc32fast::hash(key) % n) as i32,
            (Partitioner::Md5, Some(key)) => {
                let digest = Md5::digest(key);
                (u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % n) as i32
            }
            (Partitioner::RoundRobin, _) => {
                state.next = state.next.wrapping_add(1);
                (state.next % u64::from(n)) as i32
            }
            (Partitioner::Custom(f), key) => f(key, partitions),
            (Partitioner::Random, _) | (_, None) => random(state),
        }
    }
}

/// The Java client's murmur2 hash (`org.apache.kafka.common.utils.Utils.murmur2`).
///
/// ```
/// // Values from librdkafka's and the Java client's own tests.
/// assert_eq!(timely_kafka::sink::murmur2(b"kafka"), 0xd067cf64);
/// assert_eq!(timely_kafka::sink::murmur2(b""), 0x106e08d9);
/// ```
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// The partition the Java client's default partitioner picks for a keyed record:
/// `toPositive(murmur2(key)) % partitions`.
pub fn murmur2_partition(key: &[u8], partitions: i32) -> i32 {
    ((murmur2(key) & 0x7fff_ffff) % partitions.max(1) as u32) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// librdkafka's unit test of its Java-compatible murmur2 (rdmurmur2.c).
    #[test]
    fn murmur2_matches_librdkafka_java_vectors() {
        let unaligned = b"PreAmbleWillBeRemoved,ThePrePartThatIs";
        let cases: [(&[u8], u32); 11] = [
            (b"kafka", 0xd067cf64),
            (b"giberish123456789", 0x8f552b0c),
            (b"1234", 0x9fc97b14),
            (b"234", 0xe7c009ca),
            (b"34", 0x873930da),
            (b"4", 0x5a4b5ca1),
            (unaligned, 0x78424f1c),
            (&unaligned[1..], 0x4a62b377),
            (&unaligned[2..], 0xe0e4e09e),
            (&unaligned[3..], 0x62b8b43f),
            (b"", 0x106e08d9),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key), expected, "{:?}", String::from_utf8_lossy(key));
        }
    }

    /// The Java client's own test of `Utils.murmur2` (UtilsTest.testMurmur2), as signed ints.
    #[test]
    fn murmur2_matches_java_utils_test() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            (b"abc", 479470107),
        ];
        for (key, expected) in cases {
            assert_eq!(
                murmur2(key) as i32,
                expected,
                "{:?}",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn strategies_stay_in_range_and_are_deterministic_where_they_should_be() {
        let mut state = PartitionerState::new(7);
        for p in [Partitioner::Murmur2, Partitioner::Crc32, Partitioner::Md5] {
            for key in [&b"a"[..], b"customer-42", b""] {
                let first = p.partition(Some(key), 12, &mut state);
                assert!((0..12).contains(&first));
                assert_eq!(
                    first,
                    p.partition(Some(key), 12, &mut state),
                    "{p:?} is deterministic"
                );
            }
        }
        let rr: Vec<i32> = (0..6)
            .map(|_| Partitioner::RoundRobin.partition(None, 3, &mut state))
            .collect();
        assert_eq!(
            rr.iter().filter(|p| **p == rr[0]).count(),
            2,
            "round robin cycles: {rr:?}"
        );
        let random: std::collections::BTreeSet<i32> = (0..200)
            .map(|_| Partitioner::Random.partition(Some(b"k"), 4, &mut state))
            .collect();
        assert_eq!(random.len(), 4, "random covers all partitions");
        let custom = Partitioner::Custom(Arc::new(|key, n| key.map_or(0, |k| k.len() as i32 % n)));
        assert_eq!(custom.partition(Some(b"abcde"), 3, &mut state), 2);
    }

    #[test]
    fn md5_and_crc32_match_reference_values() {
        // md5("a") = 0cc175b9..., crc32("a") = 0xe8b7be43 (standard test vectors).
        let mut state = PartitionerState::new(1);
        assert_eq!(
            Partitioner::Md5.partition(Some(b"a"), i32::MAX, &mut state),
            (0x0cc1_75b9u32 % i32::MAX as u32) as i32
        );
        assert_eq!(
            Partitioner::Crc32.partition(Some(b"a"), i32::MAX, &mut state),
            (0xe8b7_be43u32 % i32::MAX as u32) as i32
        );
    }
}
