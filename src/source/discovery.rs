//! Which timely workers share this process, learned through the dataflow itself.
//!
//! timely tells a worker its global index and the total worker count, but not how many
//! workers run in its own process. The source needs that number to deal the process's
//! partitions out to its workers. So every worker broadcasts `(membership token, index)`;
//! once all have arrived, the workers carrying this process's token are the local ones, and
//! a worker's rank among them is its local index. The exchange is one record per worker,
//! once, at dataflow start.

use std::cell::Cell;
use std::rc::Rc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::ToStream;
use timely::dataflow::Scope;
use timely::scheduling::Activator;

/// This worker's place among the workers of its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalRank {
    /// Index among the local workers, `0..workers`.
    pub rank: usize,
    /// How many workers this process runs.
    pub workers: usize,
}

/// Builds the discovery exchange; `found` is filled once every worker has been heard from,
/// and `wake` is activated then.
pub(crate) fn discover_local_rank(
    scope: Scope<'_, u64>,
    token: u64,
    found: Rc<Cell<Option<LocalRank>>>,
    wake: Activator,
) {
    let me = scope.index();
    let mut peers: Vec<(u64, usize)> = Vec::new();
    Some((token, me))
        .to_stream(scope)
        .container::<Vec<(u64, usize)>>()
        .broadcast()
        .sink(
            Pipeline,
            "DiscoverLocalWorkers",
            move |(input, frontier)| {
                input.for_each(|_time, data| peers.append(data));
                if frontier.is_empty() && found.get().is_none() {
                    let mut local: Vec<usize> = peers
                        .iter()
                        .filter(|(t, _)| *t == token)
                        .map(|(_, i)| *i)
                        .collect();
                    local.sort_unstable();
                    local.dedup();
                    let rank = local.iter().position(|i| *i == me).unwrap_or(0);
                    found.set(Some(LocalRank {
                        rank,
                        workers: local.len().max(1),
                    }));
                    wake.activate();
                }
            },
        );
}
