//! Which agent a customer goes to: the per-service strategy over the agents with room.

use crate::UserId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a service picks an agent for a customer without one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The agent who served this customer last, if available with room; else least busy.
    #[default]
    Sticky,
    /// The agent with the fewest open sessions (ties: the smallest id).
    LeastBusy,
    /// The next agent with room after the one assigned last, in id order.
    RoundRobin,
}

/// One attached agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Most customers served at once.
    pub capacity: u32,
    /// Takes new customers (false: away).
    pub available: bool,
    /// Customers served now.
    pub load: u32,
}

impl Agent {
    /// Available and below capacity.
    pub fn has_room(&self) -> bool {
        self.available && self.load < self.capacity
    }
}

/// The agent `strategy` picks among `agents` with room, for a customer last served by
/// `last_agent`, the service having assigned `last_assigned` last.
pub fn pick(
    strategy: Strategy,
    agents: &BTreeMap<UserId, Agent>,
    last_agent: Option<&UserId>,
    last_assigned: Option<&UserId>,
) -> Option<UserId> {
    let least_busy = || {
        agents
            .iter()
            .filter(|(_, a)| a.has_room())
            .min_by_key(|(id, a)| (a.load, *id))
            .map(|(id, _)| id.clone())
    };
    match strategy {
        Strategy::Sticky => last_agent
            .filter(|id| agents.get(*id).is_some_and(Agent::has_room))
            .cloned()
            .or_else(least_busy),
        Strategy::LeastBusy => least_busy(),
        Strategy::RoundRobin => {
            let after = |(id, a): &(&UserId, &Agent)| {
                a.has_room() && last_assigned.is_none_or(|last| *id > last)
            };
            agents
                .iter()
                .find(after)
                .or_else(|| agents.iter().find(|(_, a)| a.has_room()))
                .map(|(id, _)| id.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agents(loads: &[(&str, u32, u32, bool)]) -> BTreeMap<UserId, Agent> {
        loads
            .iter()
            .map(|(id, load, capacity, available)| {
                let agent = Agent {
                    capacity: *capacity,
                    available: *available,
                    load: *load,
                };
                (UserId::parse(*id).unwrap(), agent)
            })
            .collect()
    }

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    #[test]
    fn each_strategy_picks_among_agents_with_room() {
        let roster = agents(&[("a1", 2, 2, true), ("a2", 1, 3, true), ("a3", 0, 3, false)]);
        assert_eq!(
            pick(Strategy::LeastBusy, &roster, None, None),
            Some(u("a2"))
        );
        assert_eq!(
            pick(Strategy::Sticky, &roster, Some(&u("a1")), None),
            Some(u("a2")),
            "a1 is full: fall back to least busy"
        );
        let roster = agents(&[("a1", 0, 2, true), ("a2", 0, 2, true), ("a3", 0, 2, true)]);
        assert_eq!(
            pick(Strategy::Sticky, &roster, Some(&u("a3")), None),
            Some(u("a3"))
        );
        assert_eq!(
            pick(Strategy::RoundRobin, &roster, None, Some(&u("a2"))),
            Some(u("a3"))
        );
        assert_eq!(
            pick(Strategy::RoundRobin, &roster, None, Some(&u("a3"))),
            Some(u("a1"))
        );
        let full = agents(&[("a1", 1, 1, true)]);
        assert_eq!(pick(Strategy::RoundRobin, &full, None, None), None);
    }
}
