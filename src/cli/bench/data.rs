//! The benchmark's records: `size`-byte payloads spread round-robin over the partitions.

use timely_kafka::testing::TestRecord;

/// The payload of record `seq`: its sequence number padded with a repeating JSON-ish
/// pattern, realistic for event data and compressible enough (with lz4) for the mock
/// cluster's ~5 MiB per partition.
pub fn payload(seq: u64, size: usize) -> Vec<u8> {
    const PATTERN: &[u8] =
        b"{\"event\":\"page_view\",\"user\":\"u-000000\",\"path\":\"/index.html\"}";
    let mut payload = format!("{seq:012}").into_bytes();
    payload.extend(
        PATTERN
            .iter()
            .cycle()
            .take(size.saturating_sub(payload.len())),
    );
    payload.truncate(size);
    payload
}

/// The partition of record `seq`.
pub fn partition(seq: u64, partitions: i32) -> i32 {
    (seq % partitions.max(1) as u64) as i32
}

/// `messages` records of `size` bytes, round-robin over `partitions`.
pub fn records(messages: u64, size: usize, partitions: i32) -> impl Iterator<Item = TestRecord> {
    (0..messages)
        .map(move |seq| TestRecord::new(payload(seq, size)).partition(partition(seq, partitions)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_the_size_asked_for() {
        assert_eq!(payload(7, 100).len(), 100);
        assert_eq!(payload(7, 5).len(), 5);
        assert!(payload(123, 100).starts_with(b"000000000123{\"event\""));
        let parts: Vec<i32> = records(10, 10, 4).map(|r| r.partition.unwrap()).collect();
        assert_eq!(parts, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    }
}
