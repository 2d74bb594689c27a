//! [`RetryPolicy`]: how often, how late and for which errors a handler is tried again.
//!
//! Exponential backoff with full jitter ("AWS" jitter: a delay drawn uniformly from zero to
//! the exponential bound) is a dozen lines here. A crate such as `backon` would own the retry
//! loop, and the loop of [`process_concurrent`](super::ConcurrentExt::process_concurrent)
//! must interleave a per-attempt timeout, count attempts for the [`Failure`](super::Failure),
//! and classify timeouts apart from handler errors; the small loop keeps that in one place.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::concurrent::StageError;

/// An error that knows whether trying again may help (a timeout, a 503, a lost connection),
/// for [`RetryPolicy::classified`].
///
/// ```
/// use timely_kafka::process::Retriable;
///
/// enum CallError { Unavailable, BadRequest }
/// impl Retriable for CallError {
///     fn is_retriable(&self) -> bool {
///         matches!(self, CallError::Unavailable)
///     }
/// }
/// assert!(CallError::Unavailable.is_retriable() && !CallError::BadRequest.is_retriable());
/// ```
pub trait Retriable {
    /// Whether another attempt may succeed.
    fn is_retriable(&self) -> bool;
}

type Predicate<E> = Arc<dyn Fn(&E) -> bool + Send + Sync>;

/// How a failed or timed-out attempt is retried: at most `max_attempts` attempts in all,
/// separated by exponential backoff with full jitter, for the errors a predicate accepts.
///
/// A record under retry keeps its place: it holds its tick (nothing at or after it is
/// committed) and, under an ordered [`Ordering`](super::Ordering), the records behind it in
/// its partition or key wait for it.
///
/// ```
/// use std::time::Duration;
/// use timely_kafka::process::RetryPolicy;
///
/// let policy = RetryPolicy::<String>::exponential(4)
///     .initial_backoff(Duration::from_millis(10))
///     .max_backoff(Duration::from_millis(50))
///     .retry_if(|e: &String| e.contains("unavailable"));
/// assert_eq!(policy.max_attempts(), 4);
/// // Full jitter: each delay is at most the exponential bound, 10, 20, 40, then 50 ms.
/// assert!(policy.backoff(1) <= Duration::from_millis(10));
/// assert!(policy.backoff(3) <= Duration::from_millis(40));
/// assert!(policy.backoff(9) <= Duration::from_millis(50));
/// ```
pub struct RetryPolicy<E> {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
    jitter: bool,
    retry_timeouts: bool,
    retriable: Option<Predicate<E>>,
}

impl<E> Clone for RetryPolicy<E> {
    fn clone(&self) -> Self {
        RetryPolicy {
            max_attempts: self.max_attempts,
            initial_backoff: self.initial_backoff,
            max_backoff: self.max_backoff,
            multiplier: self.multiplier,
            jitter: self.jitter,
            retry_timeouts: self.retry_timeouts,
            retriable: self.retriable.clone(),
        }
    }
}

impl<E> fmt::Debug for RetryPolicy<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("multiplier", &self.multiplier)
            .field("jitter", &self.jitter)
            .field("retry_timeouts", &self.retry_timeouts)
            .field("retriable", &self.retriable.as_ref().map(|_| "predicate"))
            .finish()
    }
}

impl<E> Default for RetryPolicy<E> {
    fn default() -> Self {
        RetryPolicy::none()
    }
}

impl<E> RetryPolicy<E> {
    /// One attempt, no retries: the default.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: true,
            retry_timeouts: true,
            retriable: None,
        }
    }

    /// Up to `max_attempts` attempts in all (at least 1), every error and timeout retriable,
    /// backoff from 100 ms doubling up to 10 s, with full jitter.
    pub fn exponential(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            ..RetryPolicy::none()
        }
    }

    /// Sets the bound on the first delay. Default: 100 ms.
    pub fn initial_backoff(mut self, delay: Duration) -> Self {
        self.initial_backoff = delay;
        self
    }

    /// Sets the cap on any delay. Default: 10 s.
    pub fn max_backoff(mut self, delay: Duration) -> Self {
        self.max_backoff = delay;
        self
    }

    /// Sets the growth factor between delays (at least 1). Default: 2.
    pub fn multiplier(mut self, factor: f64) -> Self {
        self.multiplier = factor.max(1.0);
        self
    }

    /// Whether delays are drawn uniformly below their bound (full jitter, the default) or
    /// are the bound itself.
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Whether a timed-out attempt is retried. Default: yes.
    pub fn retry_timeouts(mut self, retry: bool) -> Self {
        self.retry_timeouts = retry;
        self
    }

    /// Retries only the handler errors `predicate` accepts (default: every error).
    pub fn retry_if(mut self, predicate: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.retriable = Some(Arc::new(predicate));
        self
    }

    /// The number of attempts allowed in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay before attempt `failed + 1`, after `failed` failed attempts (1-based):
    /// `min(max_backoff, initial_backoff × multiplier^(failed − 1))`, or a uniform draw
    /// below it with jitter.
    pub fn backoff(&self, failed: u32) -> Duration {
        let exponent = failed.saturating_sub(1).min(64) as i32;
        let bound = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exponent);
        let bound = Duration::from_secs_f64(bound.min(self.max_backoff.as_secs_f64()));
        if self.jitter {
            bound.mul_f64(fastrand::f64())
        } else {
            bound
        }
    }

    /// Whether `error`, after `attempts` attempts, is tried again.
    pub(crate) fn should_retry(&self, error: &StageError<E>, attempts: u32) -> bool {
        match error {
            StageError::TimedOut(_) => attempts < self.max_attempts && self.retry_timeouts,
            StageError::Handler(e) => self.retries_handler_error(e, attempts),
            // A panic is a bug in the handler, not a passing condition.
            StageError::Panicked => false,
        }
    }

    /// Whether the handler's `error`, after `attempts` attempts, is tried again.
    pub(crate) fn retries_handler_error(&self, error: &E, attempts: u32) -> bool {
        attempts < self.max_attempts && self.retriable.as_ref().is_none_or(|p| p(error))
    }
}

impl<E: Retriable + 'static> RetryPolicy<E> {
    /// Up to `max_attempts` attempts, retrying the errors that call themselves retriable
    /// ([`Retriable::is_retriable`]) and timeouts.
    pub fn classified(max_attempts: u32) -> Self {
        RetryPolicy::exponential(max_attempts).retry_if(E::is_retriable)
    }
}
