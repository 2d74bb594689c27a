//! Which consumer-group protocol the source's membership speaks, and its assignor.

use std::fmt;
use std::str::FromStr;

use rdkafka::ClientConfig;

use crate::client::Passthrough;
use crate::error::ConfigError;

/// The consumer-group protocol (`group.protocol`) and the assignor that goes with it.
///
/// * [`Classic`](GroupProtocol::Classic) (the default) is Kafka's JoinGroup/SyncGroup
///   protocol, spoken by every broker since 0.9: the group's leader member computes the
///   assignment with a client-side assignor, and the member's `session.timeout.ms` and
///   `heartbeat.interval.ms` (passthrough keys) decide how soon a dead member is noticed.
/// * [`Consumer`](GroupProtocol::Consumer) is KIP-848's protocol (Apache Kafka 4.0 and later;
///   librdkafka's mock cluster): the broker computes assignments and hands them over
///   incrementally, and the session and heartbeat timeouts are the broker's
///   (`group.consumer.session.timeout.ms`, `group.consumer.heartbeat.interval.ms`), so setting
///   them on the client is an error. Members join, leave and restart without stopping the
///   others.
///
/// On the embedded cluster (librdkafka's mock) the classic protocol stalls a group after a
/// member leaves: the next assignment waits for about `session.timeout.ms − 1 s` (44 s at the
/// default 45 s), where Apache Kafka rebalances as soon as the remaining members rejoin. The
/// consumer protocol has no such stall there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupProtocol {
    /// Kafka's classic protocol with this client-side assignor.
    Classic(ClassicAssignor),
    /// KIP-848's consumer protocol with this broker-side assignor.
    Consumer(ServerAssignor),
}

impl Default for GroupProtocol {
    fn default() -> Self {
        GroupProtocol::Classic(ClassicAssignor::default())
    }
}

/// The client-side assignor of the classic protocol (`partition.assignment.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClassicAssignor {
    /// librdkafka's default, `range,roundrobin`: eager rebalances (every member gives up
    /// everything, then is assigned again).
    #[default]
    RangeRoundRobin,
    /// `range`, eager.
    Range,
    /// `roundrobin`, eager.
    RoundRobin,
    /// `cooperative-sticky`: incremental rebalances; members keep the partitions that do not
    /// move.
    CooperativeSticky,
}

/// The broker-side assignor of the consumer protocol (`group.remote.assignor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerAssignor {
    /// Whatever the broker's `group.consumer.assignors` lists first.
    #[default]
    BrokerDefault,
    /// `uniform`: partitions spread evenly, sticky.
    Uniform,
    /// `range`: co-partitioned topics' partitions go to the same member.
    Range,
}

/// Client keys the consumer protocol refuses: the broker owns their meaning.
const CLASSIC_ONLY: &[(&str, &str)] = &[
    (
        "session.timeout.ms",
        "the broker's `group.consumer.session.timeout.ms` decides it",
    ),
    (
        "heartbeat.interval.ms",
        "the broker's `group.consumer.heartbeat.interval.ms` decides it",
    ),
    (
        "group.protocol.type",
        "the consumer protocol has no protocol type",
    ),
];

impl GroupProtocol {
    /// The classic protocol with librdkafka's default assignor.
    pub fn classic() -> Self {
        GroupProtocol::default()
    }

    /// The consumer protocol with the broker's default assignor.
    pub fn consumer() -> Self {
        GroupProtocol::Consumer(ServerAssignor::default())
    }

    /// This protocol with the assignor called `name`: for `classic`, `range,roundrobin`,
    /// `range`, `roundrobin` or `cooperative-sticky` (`partition.assignment.strategy`); for
    /// `consumer`, `uniform` or `range` (`group.remote.assignor`). Any other name is an error
    /// naming the key and the choices.
    ///
    /// ```
    /// use timely_kafka::{ClassicAssignor, GroupProtocol};
    ///
    /// let protocol = GroupProtocol::classic().with_assignor("cooperative-sticky").unwrap();
    /// assert_eq!(protocol, GroupProtocol::Classic(ClassicAssignor::CooperativeSticky));
    /// assert!(GroupProtocol::consumer().with_assignor("cooperative-sticky").is_err());
    /// ```
    pub fn with_assignor(self, name: &str) -> Result<Self, ConfigError> {
        let wanted = name.trim().to_ascii_lowercase();
        let invalid = |key: &str, choices: &str| ConfigError::Invalid {
            key: key.to_owned(),
            value: name.to_owned(),
            reason: format!("the {self} protocol's assignors are {choices}"),
        };
        match self {
            GroupProtocol::Classic(_) => {
                let all = [
                    ClassicAssignor::RangeRoundRobin,
                    ClassicAssignor::Range,
                    ClassicAssignor::RoundRobin,
                    ClassicAssignor::CooperativeSticky,
                ];
                all.into_iter()
                    .find(|a| a.key_value() == wanted)
                    .map(GroupProtocol::Classic)
                    .ok_or_else(|| {
                        invalid(
                            "partition.assignment.strategy",
                            "`range,roundrobin`, `range`, `roundrobin` and `cooperative-sticky`",
                        )
                    })
            }
            GroupProtocol::Consumer(_) => [ServerAssignor::Uniform, ServerAssignor::Range]
                .into_iter()
                .find(|a| a.key_value() == Some(wanted.as_str()))
                .map(GroupProtocol::Consumer)
                .ok_or_else(|| invalid("group.remote.assignor", "`uniform` and `range`")),
        }
    }

    /// Refuses passthrough keys this protocol does not use, naming the key.
    pub(crate) fn validate(&self, passthrough: &Passthrough) -> Result<(), ConfigError> {
        if let GroupProtocol::Consumer(_) = self {
            for (key, why) in CLASSIC_ONLY {
                if let Some(value) = passthrough.get(key) {
                    return Err(ConfigError::Invalid {
                        key: (*key).to_owned(),
                        value: value.to_owned(),
                        reason: format!(
                            "not used by the consumer group protocol: {why}; leave it unset or use the classic protocol"
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Sets `group.protocol` and the assignor's key.
    pub(crate) fn apply_to(&self, config: &mut ClientConfig) {
        match self {
            GroupProtocol::Classic(assignor) => {
                config
                    .set("group.protocol", "classic")
                    .set("partition.assignment.strategy", assignor.key_value());
            }
            GroupProtocol::Consumer(assignor) => {
                config.set("group.protocol", "consumer");
                if let Some(value) = assignor.key_value() {
                    config.set("group.remote.assignor", value);
                }
            }
        }
    }
}

impl ClassicAssignor {
    fn key_value(self) -> &'static str {
        match self {
            ClassicAssignor::RangeRoundRobin => "range,roundrobin",
            ClassicAssignor::Range => "range",
            ClassicAssignor::RoundRobin => "roundrobin",
            ClassicAssignor::CooperativeSticky => "cooperative-sticky",
        }
    }
}

impl ServerAssignor {
    fn key_value(self) -> Option<&'static str> {
        match self {
            ServerAssignor::BrokerDefault => None,
            ServerAssignor::Uniform => Some("uniform"),
            ServerAssignor::Range => Some("range"),
        }
    }
}

impl fmt::Display for GroupProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupProtocol::Classic(a) => write!(f, "classic ({})", a.key_value()),
            GroupProtocol::Consumer(a) => {
                write!(
                    f,
                    "consumer ({})",
                    a.key_value().unwrap_or("broker's assignor")
                )
            }
        }
    }
}

/// Parses `classic` or `consumer` (each with its default assignor), as `group.protocol`
/// spells them.
impl FromStr for GroupProtocol {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "classic" => Ok(GroupProtocol::classic()),
            "consumer" => Ok(GroupProtocol::consumer()),
            _ => Err(ConfigError::Invalid {
                key: "group.protocol".into(),
                value: value.to_owned(),
                reason: "expected `classic` or `consumer`".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_protocols_and_names_the_key_otherwise() {
        assert_eq!(
            "classic".parse::<GroupProtocol>().unwrap(),
            GroupProtocol::classic()
        );
        assert_eq!(
            " Consumer".parse::<GroupProtocol>().unwrap(),
            GroupProtocol::consumer()
        );
        assert_eq!(
            GroupProtocol::consumer().with_assignor(" Uniform").unwrap(),
            GroupProtocol::Consumer(ServerAssignor::Uniform)
        );
        match GroupProtocol::classic().with_assignor("uniform") {
            Err(ConfigError::Invalid { key, .. }) => {
                assert_eq!(key, "partition.assignment.strategy")
            }
            other => panic!("{other:?}"),
        }
        match "kip848".parse::<GroupProtocol>() {
            Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "group.protocol"),
            other => panic!("{other:?}"),
        }
    }
}
