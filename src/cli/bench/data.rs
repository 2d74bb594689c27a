//! The benchmark's records: `size`-byte payloads spread round-robin over the partitions.

use timely_kafka::testing::TestRecord;

/// Writes payloads without allocating: a template of `size` bytes (a JSON-ish pattern,
/// realistic for event data and compressible enough with lz4 for the mock cluster's
/// ~5 MiB per partition) with the record's zero-padded sequence number at the front.
/// Cheap enough (a 100-byte copy) not to slow the raw-produce baseline down.
pub struct Payloads {
    buffer: Vec<u8>,
}

impl Payloads {
    const PATTERN: &'static [u8] =
        b"{\"event\":\"page_view\",\"user\":\"u-000000\",\"path\":\"/index.html\"}";
    const DIGITS: usize = 12;

    pub fn new(size: usize) -> Self {
        let mut buffer = vec![b'0'; Self::DIGITS];
        buffer.extend(
            Self::PATTERN
                .iter()
                .cycle()
                .take(size.saturating_sub(Self::DIGITS)),
        );
        buffer.truncate(size);
        Payloads { buffer }
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
        assert_eq!(parts, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    }
}
