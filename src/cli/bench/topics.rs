//! The topics of a benchmark, named before the broker starts (a child mock cluster creates
//! them at start; see [`broker`](super::broker)).
//!
//! Preloaded (default): one input topic read by every consuming run, plus a fresh output
//! topic per repetition for raw produce, the raw copy and the pipe. With `--rate`, every consuming
//! run gets a fresh topic that its rate-limited producer fills while it reads.

use timely_kafka::testing::unique_name;

/// Every topic name a benchmark uses, by run and repetition.
#[derive(Debug, Clone)]
pub struct TopicPlan {
    pub partitions: i32,
    /// The raw consumer's topic per repetition.
    pub raw: Vec<String>,
    /// The pipeline's topic per repetition and worker count.
    pub pipeline: Vec<Vec<String>>,
    /// The pipe's input and output topics per repetition.
    pub pipe_in: Vec<String>,
    pub pipe_out: Vec<String>,
    /// Raw produce's output topic per repetition.
    pub produce: Vec<String>,
    /// The raw copy's input and output topics per repetition.
    pub copy_in: Vec<String>,
    pub copy_out: Vec<String>,
    /// The idle measurement's empty topic.
    pub idle: Option<String>,
    /// The preloaded input, if any.
    pub input: Option<String>,
}

/// What the plan needs to know about the run.
pub struct PlanSpec<'a> {
    pub partitions: i32,
    pub reps: usize,
    pub worker_counts: usize,
    pub rate_mode: bool,
    pub raw: bool,
    pub pipe: bool,
    pub idle: bool,
    /// A given input topic (`--topic`).
    pub input: Option<&'a str>,
}

impl TopicPlan {
    pub fn new(spec: &PlanSpec<'_>) -> Self {
        let reps = spec.reps;
        let input = (!spec.rate_mode).then(|| {
            spec.input
                .map(str::to_owned)
                .unwrap_or_else(|| unique_name("bench"))
        });
        // A topic per repetition: the preloaded input, or a fresh one fed at the rate.
        let fed = |prefix: &str| -> Vec<String> {
            (0..reps)
                .map(|_| input.clone().unwrap_or_else(|| unique_name(prefix)))
                .collect()
        };
        let fresh =
            |prefix: &str| -> Vec<String> { (0..reps).map(|_| unique_name(prefix)).collect() };
        TopicPlan {
            partitions: spec.partitions,
            raw: if spec.raw {
                fed("bench-raw")
            } else {
                Vec::new()
            },
            pipeline: (0..spec.worker_counts)
                .map(|_| fed("bench-pipeline"))
                .collect(),
            pipe_in: if spec.pipe {
                fed("bench-pipe-in")
            } else {
                Vec::new()
            },
            pipe_out: if spec.pipe {
                fresh("bench-pipe-out")
            } else {
                Vec::new()
            },
            produce: if spec.pipe && !spec.rate_mode {
                fresh("bench-produce")
            } else {
                Vec::new()
            },
            copy_in: if spec.pipe {
                fed("bench-copy-in")
            } else {
                Vec::new()
            },
            copy_out: if spec.pipe {
                fresh("bench-copy-out")
            } else {
                Vec::new()
            },
            idle: spec.idle.then(|| unique_name("bench-idle")),
            input,
        }
    }

    /// Every distinct topic with its partition count, in a stable order.
    pub fn all(&self) -> Vec<(String, i32)> {
        let mut all = self.read();
        all.extend(self.any_partitions());
        all.into_iter().map(|n| (n, self.partitions)).collect()
    }

    /// The distinct topics whose records consumers read: they must have exactly
    /// `partitions` partitions.
    pub fn read(&self) -> Vec<String> {
        let mut names: Vec<&String> = self.input.iter().collect();
        names.extend(&self.raw);
        names.extend(self.pipeline.iter().flatten());
        names.extend(&self.pipe_in);
        names.extend(&self.copy_in);
        distinct(names)
    }

    /// The distinct topics whose partition count does not matter: outputs, and the idle
    /// measurement's empty topic.
    pub fn any_partitions(&self) -> Vec<String> {
        distinct(
            self.pipe_out
                .iter()
                .chain(&self.produce)
                .chain(&self.copy_out)
                .chain(&self.idle)
                .collect(),
        )
    }
}

fn distinct(names: Vec<&String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(n.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rate_mode: bool) -> PlanSpec<'static> {
        PlanSpec {
            partitions: 8,
            reps: 2,
            worker_counts: 2,
            rate_mode,
            raw: true,
            pipe: true,
            idle: true,
            input: None,
        }
    }

    #[test]
    fn preloaded_runs_share_one_input() {
        let plan = TopicPlan::new(&spec(false));
        let input = plan.input.clone().unwrap();
        assert!(plan
            .raw
            .iter()
            .chain(&plan.pipe_in)
            .chain(&plan.copy_in)
            .all(|t| *t == input));
        assert!(plan.pipeline.iter().flatten().all(|t| *t == input));
        // input, 2 pipe outputs, 2 produce outputs, 2 copy outputs, idle
        assert_eq!(plan.all().len(), 8);
    }

    #[test]
    fn rate_runs_get_fresh_topics() {
        let plan = TopicPlan::new(&spec(true));
        assert!(plan.input.is_none() && plan.produce.is_empty());
        // 2 reps × (raw + 2 pipelines + pipe in + pipe out + copy in + copy out) + idle
        assert_eq!(plan.all().len(), 15);
    }
}
