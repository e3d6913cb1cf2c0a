//! The service aggregate's events, all on the service's subject (`tid.evt.<app>.service.<id>`):
//! its roster, its customers' sessions and their messages share one sequence, so every
//! assignment is decided on the state the messages before it left, and replays the same.

use crate::service::Strategy;
use crate::{AppId, Body, ClientMsgId, ConvId, MessageId, UserId};
use serde::{Deserialize, Serialize};

/// The service account or its agents changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RosterChanged {
    pub app: AppId,
    pub service: UserId,
    pub change: RosterChange,
    pub ts: i64,
}

/// What changed in a service's roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RosterChange {
    /// The user became (or stays) a service account assigning by `strategy`.
    Opened { strategy: Strategy },
    /// An agent was attached, or its capacity changed.
    AgentAttached { agent: UserId, capacity: u32 },
    /// An agent was detached (its sessions were requeued just before).
    AgentDetached { agent: UserId },
    /// An agent became available (takes new customers) or away.
    AgentAvailability { agent: UserId, available: bool },
}

/// A customer's session with a service changed hands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionChanged {
    pub app: AppId,
    pub service: UserId,
    pub customer: UserId,
    /// The customer's session number with this service, from 1.
    pub session: u64,
    pub change: SessionChange,
    pub ts: i64,
}

impl SessionChanged {
    /// The service conversation this session belongs to.
    pub fn conv(&self) -> ConvId {
        ConvId::service(&self.service, &self.customer)
    }
}

/// How a session changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionChange {
    /// An agent now serves the customer (a new session, a queued one, or a requeued one).
    Assigned { agent: UserId },
    /// No agent has room: the customer waits at `position` (1: next).
    Queued { position: u64 },
    /// The service account itself took the customer.
    Taken,
    /// The session moved from `from` (an agent or the service account) to `to`.
    Transferred {
        from: UserId,
        to: UserId,
        note: Option<String>,
    },
    /// The session ended; `agent` held it (none while queued). The customer's next message
    /// opens a new session.
    Closed { by: UserId, agent: Option<UserId> },
    /// `from` was detached: the session waits for another agent.
    Requeued { from: UserId },
}

/// A message of a service conversation: from the customer, or from the business side (an
/// agent or the service account itself). `agent` is who handled it, for the business side only;
/// the customer sees the service account as the sender of every business message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceMessageSent {
    pub app: AppId,
    pub service: UserId,
    pub customer: UserId,
    pub msg_id: MessageId,
    pub conv_seq: u64,
    pub from: UserId,
    /// Who served the session when it was sent (none while the customer is queued).
    pub agent: Option<UserId>,
    pub session: u64,
    pub client_msg_id: ClientMsgId,
    pub body: Body,
    pub ts: i64,
}

impl ServiceMessageSent {
    /// The service conversation.
    pub fn conv(&self) -> ConvId {
        ConvId::service(&self.service, &self.customer)
    }
}
