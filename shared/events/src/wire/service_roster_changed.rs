//! `service_roster_changed`: a user became a service account, or its agents changed.

use crate::codec::{DecodeError, to_vec};
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::types::SERVICE_ROSTER_CHANGED;
use tidings_domain::service::{RosterChange, RosterChanged, Strategy};
use tidings_domain::{AppId, Event, IdError, UserId};

/// `service_roster_changed`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceRosterChangedV1 {
    pub app: String,
    pub service: String,
    pub change: RosterChangeV1,
    pub ts: i64,
}

/// A roster change, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RosterChangeV1 {
    Opened { strategy: StrategyV1 },
    AgentAttached { agent: String, capacity: u32 },
    AgentDetached { agent: String },
    AgentAvailability { agent: String, available: bool },
}

/// An assignment strategy, version 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StrategyV1 {
    Sticky,
    LeastBusy,
    RoundRobin,
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: SERVICE_ROSTER_CHANGED,
    version: 1,
    decode: |p| {
        let wire = rmp_serde::from_slice::<ServiceRosterChangedV1>(p)?;
        Ok(Event::ServiceRosterChanged(
            wire.try_into().map_err(DecodeError::Invalid)?,
        ))
    },
    schema: schema::<ServiceRosterChangedV1>,
    sample: || {
        Event::ServiceRosterChanged(RosterChanged {
            app: sample::app(),
            service: UserId::parse("acme").expect("valid"),
            change: RosterChange::AgentAttached {
                agent: sample::bob(),
                capacity: 5,
            },
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(r: &RosterChanged) -> (u32, Vec<u8>) {
    (1, to_vec(&ServiceRosterChangedV1::from(r)))
}

impl From<StrategyV1> for Strategy {
    fn from(w: StrategyV1) -> Self {
        match w {
            StrategyV1::Sticky => Strategy::Sticky,
            StrategyV1::LeastBusy => Strategy::LeastBusy,
            StrategyV1::RoundRobin => Strategy::RoundRobin,
        }
    }
}

impl From<Strategy> for StrategyV1 {
    fn from(s: Strategy) -> Self {
        match s {
            Strategy::Sticky => StrategyV1::Sticky,
            Strategy::LeastBusy => StrategyV1::LeastBusy,
            Strategy::RoundRobin => StrategyV1::RoundRobin,
        }
    }
}

impl TryFrom<ServiceRosterChangedV1> for RosterChanged {
    type Error = IdError;
    fn try_from(w: ServiceRosterChangedV1) -> Result<Self, IdError> {
        let change = match w.change {
            RosterChangeV1::Opened { strategy } => RosterChange::Opened {
                strategy: strategy.into(),
            },
            RosterChangeV1::AgentAttached { agent, capacity } => RosterChange::AgentAttached {
                agent: UserId::parse(agent)?,
                capacity,
            },
            RosterChangeV1::AgentDetached { agent } => RosterChange::AgentDetached {
                agent: UserId::parse(agent)?,
            },
            RosterChangeV1::AgentAvailability { agent, available } => {
                RosterChange::AgentAvailability {
                    agent: UserId::parse(agent)?,
                    available,
                }
            }
        };
        Ok(RosterChanged {
            app: AppId::parse(w.app)?,
            service: UserId::parse(w.service)?,
            change,
            ts: w.ts,
        })
    }
}

impl From<&RosterChanged> for ServiceRosterChangedV1 {
    fn from(r: &RosterChanged) -> Self {
        let change = match &r.change {
            RosterChange::Opened { strategy } => RosterChangeV1::Opened {
                strategy: (*strategy).into(),
            },
            RosterChange::AgentAttached { agent, capacity } => RosterChangeV1::AgentAttached {
                agent: agent.to_string(),
                capacity: *capacity,
            },
            RosterChange::AgentDetached { agent } => RosterChangeV1::AgentDetached {
                agent: agent.to_string(),
            },
            RosterChange::AgentAvailability { agent, available } => {
                RosterChangeV1::AgentAvailability {
                    agent: agent.to_string(),
                    available: *available,
                }
            }
        };
        ServiceRosterChangedV1 {
            app: r.app.to_string(),
            service: r.service.to_string(),
            change,
            ts: r.ts,
        }
    }
}
