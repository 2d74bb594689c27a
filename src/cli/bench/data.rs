//! The benchmark's records: `size`-byte payloads spread round-robin over the partitions.

use timely_kafka::testing::TestRecord;

/// Writes payloads without allocating: a template of `size` bytes (a JSON-ish pattern,
/// realistic for event data and compressible enough with lz4 for the mock cluster's
/// ~5 MiB per partition) with the record's zero-padded sequence number at the front.
/// Cheap enough (a 100-byte copy) not to slow the raw-produce baseline down.
///
/// Payloads above [`VARIED_FROM`](Self::VARIED_FROM) bytes have every other 64-byte chunk
/// taken from a pool of random hex digits, at an offset that changes with every record, so
/// they compress about 2:1 as real documents do. Repeating the pattern alone compressed a
/// 100 KB payload about 180:1, so one 256 KiB fetch decompressed into ~46 MB and large-record
/// runs measured an unrealistic compression ratio rather than the pipeline.
pub struct Payloads {
    buffer: Vec<u8>,
    /// Random hex digits, empty for payloads of at most `VARIED_FROM` bytes.
    pool: Vec<u8>,
}

impl Payloads {
    const PATTERN: &'static [u8] =
        b"{\"event\":\"page_view\",\"user\":\"u-000000\",\"path\":\"/index.html\"}";
    const DIGITS: usize = 12;
    /// Payloads larger than this get varied content.
    pub const VARIED_FROM: usize = 256;
    const CHUNK: usize = 64;
    const POOL: usize = 1 << 20;

    pub fn new(size: usize) -> Self {
        let mut buffer = vec![b'0'; Self::DIGITS];
        buffer.extend(
            Self::PATTERN
                .iter()
                .cycle()
                .take(size.saturating_sub(Self::DIGITS)),
        );
        buffer.truncate(size);
        let pool = if size > Self::VARIED_FROM {
            // xorshift64: deterministic, no dependency, fast enough for 1 MiB once.
            let mut state = 0x9E37_79B9_7F4A_7C15u64;
            (0..Self::POOL + size)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    b"0123456789abcdef"[(state & 15) as usize]
                })
                .collect()
        } else {
            Vec::new()
        };
        Payloads { buffer, pool }
    }

    /// The payload of record `seq` (valid until the next call).
    #[inline]
    pub fn get(&mut self, seq: u64) -> &[u8] {
        let mut n = seq;
        for i in (0..Self::DIGITS).rev() {
            let digit = b'0' + (n % 10) as u8;
            n /= 10;
            if let Some(b) = self.buffer.get_mut(i) {
                *b = digit;
            }
        }
        if !self.pool.is_empty() {
            let from = (seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) % Self::POOL as u64) as usize;
            let len = self.buffer.len();
            let mut at = Self::CHUNK;
            while at < len {
                let end = (at + Self::CHUNK).min(len);
                self.buffer[at..end].copy_from_slice(&self.pool[from + at..from + end]);
                at += 2 * Self::CHUNK;
            }
        }
        &self.buffer
    }
}

/// The partition of record `seq`.
pub fn partition(seq: u64, partitions: i32) -> i32 {
    (seq % partitions.max(1) as u64) as i32
}

/// `messages` records of `size` bytes, round-robin over `partitions`.
pub fn records(messages: u64, size: usize, partitions: i32) -> impl Iterator<Item = TestRecord> {
    let mut payloads = Payloads::new(size);
    (0..messages).map(move |seq| {
        TestRecord::new(payloads.get(seq).to_vec()).partition(partition(seq, partitions))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_the_size_asked_for() {
        let mut payloads = Payloads::new(100);
        assert_eq!(payloads.get(7).len(), 100);
        assert!(payloads.get(123).starts_with(b"000000000123{\"event\""));
        assert!(payloads.get(u64::MAX).starts_with(b"073709551615"));
        assert_eq!(Payloads::new(5).get(42), b"00000");
        let parts: Vec<i32> = records(10, 10, 4).map(|r| r.partition.unwrap()).collect();
        // Large payloads vary from record to record beyond the sequence number.
        let mut large = Payloads::new(1_000);
        let (a, b) = (large.get(1).to_vec(), large.get(2).to_vec());
        assert_eq!((a.len(), b.len()), (1_000, 1_000));
        assert_ne!(a[12..], b[12..]);
        assert_eq!(a[12..64], b[12..64], "the first chunk keeps the pattern");
        assert_eq!(parts, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    }
}
