//! Timestamps: `u64` ticks aligned to the wall clock.
//!
//! A record read at wall-clock time `now` (milliseconds since the Unix epoch) is stamped
//! `now - now % tick`. Every worker of every process computes the same ticks, so an idle
//! worker's source moves its capability forward with the clock and never holds another
//! worker's records back. The clock never runs backwards: if the system clock steps back,
//! the tick stays where it was until the clock catches up.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Turns the wall clock into ticks of a fixed length.
#[derive(Debug, Clone)]
pub struct TickClock {
    tick_ms: u64,
    last: u64,
}

impl TickClock {
    /// A clock with ticks of `tick` (rounded to whole milliseconds, at least 1).
    pub fn new(tick: Duration) -> Self {
        TickClock {
            tick_ms: (tick.as_millis() as u64).max(1),
            last: 0,
        }
    }

    /// The tick containing `now_ms`, never less than a tick returned before.
    ///
    /// ```
    /// use std::time::Duration;
    /// use timely_kafka::source::clock::TickClock;
    ///
    /// let mut clock = TickClock::new(Duration::from_millis(100));
    /// assert_eq!(clock.tick_at(1_234), 1_200);
    /// assert_eq!(clock.tick_at(1_000), 1_200); // the clock stepped back: hold
    /// assert_eq!(clock.tick_at(1_300), 1_300);
    /// ```
    pub fn tick_at(&mut self, now_ms: u64) -> u64 {
        let tick = now_ms - now_ms % self.tick_ms;
        self.last = self.last.max(tick);
        self.last
    }

    /// The current tick.
    pub fn now(&mut self) -> u64 {
        self.tick_at(wall_clock_ms())
    }

    /// How long until the tick after the last one returned begins: at least 1 ms and at
    /// most one tick, even if the wall clock stepped back or jumped.
    pub fn until_next_tick(&self) -> Duration {
        let next = self.last + self.tick_ms;
        let wait = next.saturating_sub(wall_clock_ms()).clamp(1, self.tick_ms);
        Duration::from_millis(wait)
    }

    /// The length of a tick in milliseconds.
    pub fn tick_ms(&self) -> u64 {
        self.tick_ms
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
