//! What a failure does to commits: [`FailurePolicy`].

use std::fmt::Display;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::{Broadcast, Map};
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::{ProbeHandle, StreamVec};

use super::Failure;
use crate::metrics::PolicyKind;
use crate::source::SourceHandle;
use crate::HaltedPartition;

/// What a failed record does to its partition's commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// The failure is handled like a success: once the failure output has been processed,
    /// the commit position moves past it (Broadway's behaviour). Route failures to a
    /// dead-letter topic to keep them.
    #[default]
    Continue,
    /// The partition's commits stop at its first failure: the failed offset and everything
    /// after it stay uncommitted, so a restart reads the failed record again. The halt is
    /// logged as an error and reported in [`SourceProgress::halted`](crate::SourceProgress)
    /// with its [`Position`](crate::Position). Records keep flowing; only commits stop.
    Stop,
}

/// Applies a [`FailurePolicy`] to a failure stream.
pub trait FailurePolicyExt<'scope, E> {
    /// Applies `policy` for the source behind `handle`, and returns the failures unchanged
    /// for further handling (a dead-letter sink, logging).
    ///
    /// With [`FailurePolicy::Stop`], every failure is broadcast to every worker, each
    /// process records the halt for its partitions, and the source's commit frontier waits
    /// for that bookkeeping, so no commit can pass a failure before its halt is known.
    fn with_policy(
        self,
        policy: FailurePolicy,
        handle: &SourceHandle,
    ) -> StreamVec<'scope, u64, Failure<E>>;
}

impl<'scope, E> FailurePolicyExt<'scope, E> for StreamVec<'scope, u64, Failure<E>>
where
    E: Display + Clone + 'static,
{
    fn with_policy(
        self,
        policy: FailurePolicy,
        handle: &SourceHandle,
    ) -> StreamVec<'scope, u64, Failure<E>> {
        let control = handle.control();
        let kind = match policy {
            FailurePolicy::Continue => PolicyKind::Continue,
            FailurePolicy::Stop => PolicyKind::Stop,
        };
        // Counted per container, for the `timely_kafka_source_failures_total` metric.
        let counter = control.clone();
        let counted = self.inspect_core(move |event| {
            if let Ok((_, failures)) = event {
                counter.count_failures(kind, failures.len() as u64);
            }
        });
        if policy == FailurePolicy::Continue {
            return counted;
        }
        let probe = ProbeHandle::new();
        counted
            .clone()
            .map(|f| (f.position, f.error.to_string()))
            .broadcast()
            .unary::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(
                Pipeline,
                "HaltCommits",
                move |_, _| {
                    move |input, _output| {
                        input.for_each(|_time, data| {
                            for (position, error) in data.drain(..) {
                                control.halt(HaltedPartition { position, error });
                            }
                        });
                    }
                },
            )
            .probe_with(&probe);
        handle.gate_commits_on(probe);
        counted
    }
}
