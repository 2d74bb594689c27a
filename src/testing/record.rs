//! Records to load into an embedded cluster, and what a load reports back.

/// One record to produce with [`EmbeddedCluster::load`](super::EmbeddedCluster::load).
///
/// Built with [`TestRecord::new`] (or [`TestRecord::tombstone`] for a record without a
/// payload) and the builder methods:
///
/// ```
/// use timely_kafka::testing::TestRecord;
///
/// let record = TestRecord::new("hello")
///     .partition(2)
///     .key("user-7")
///     .header("trace-id", "abc")
///     .timestamp_ms(1_700_000_000_000);
/// assert_eq!(record.partition, Some(2));
/// assert_eq!(record.key.as_deref(), Some(&b"user-7"[..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestRecord {
    /// The partition to write to; `None` lets librdkafka's default partitioner choose
    /// (a hash of the key, or a random partition for records without a key).
    pub partition: Option<i32>,
    /// The record key.
    pub key: Option<Vec<u8>>,
    /// The record value; `None` is a tombstone.
    pub payload: Option<Vec<u8>>,
    /// Record headers, in order. Names may repeat.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The record's create time in milliseconds since the Unix epoch; `None` lets the
    /// producer stamp the current time.
    pub timestamp_ms: Option<i64>,
}

impl TestRecord {
    /// A record with this payload, no key, no headers, and no fixed partition.
    pub fn new(payload: impl Into<Vec<u8>>) -> Self {
        TestRecord {
            payload: Some(payload.into()),
            ..TestRecord::default()
        }
    }

    /// A record without a payload (a tombstone, when it has a key).
    pub fn tombstone() -> Self {
        TestRecord::default()
    }

    /// Writes the record to this partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the record key.
    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Appends a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the record's timestamp, in milliseconds since the Unix epoch.
    pub fn timestamp_ms(mut self, timestamp_ms: i64) -> Self {
        self.timestamp_ms = Some(timestamp_ms);
        self
    }

    /// Bytes of key and payload, the size [`LoadReport::bytes`] counts.
    pub(crate) fn data_len(&self) -> u64 {
        let key = self.key.as_ref().map_or(0, Vec::len);
        let payload = self.payload.as_ref().map_or(0, Vec::len);
        (key + payload) as u64
    }
}

/// What [`EmbeddedCluster::load`](super::EmbeddedCluster::load) wrote.
///
/// A load returns a report only when the broker acknowledged every record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// How many records the broker acknowledged.
    pub records: u64,
    /// Total bytes of their keys and payloads (headers and framing not counted).
    pub bytes: u64,
}
