//! `service_session_changed`: a customer's session with a service was assigned, queued, taken
//! by the service account, transferred, closed or requeued.

use crate::codec::{DecodeError, to_vec};
use crate::registry::{Entry, schema};
use crate::sample;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tidings_domain::event::types::SERVICE_SESSION_CHANGED;
use tidings_domain::service::{SessionChange, SessionChanged};
use tidings_domain::{AppId, Event, IdError, UserId};

/// `service_session_changed`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServiceSessionChangedV1 {
    pub app: String,
    pub service: String,
    pub customer: String,
    pub session: u64,
    pub change: SessionChangeV1,
    pub ts: i64,
}

/// A session change, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionChangeV1 {
    Assigned {
        agent: String,
    },
    Queued {
        position: u64,
    },
    Taken,
    Transferred {
        from: String,
        to: String,
        #[serde(default)]
        note: Option<String>,
    },
    Closed {
        by: String,
        #[serde(default)]
        agent: Option<String>,
    },
    Requeued {
        from: String,
    },
}

pub(crate) const ENTRIES: &[Entry] = &[Entry {
    event_type: SERVICE_SESSION_CHANGED,
    version: 1,
    decode: |p| {
        let wire = rmp_serde::from_slice::<ServiceSessionChangedV1>(p)?;
        Ok(Event::ServiceSessionChanged(
            wire.try_into().map_err(DecodeError::Invalid)?,
        ))
    },
    schema: schema::<ServiceSessionChangedV1>,
    sample: || {
        Event::ServiceSessionChanged(SessionChanged {
            app: sample::app(),
            service: UserId::parse("acme").expect("valid"),
            customer: sample::alice(),
            session: 2,
            change: SessionChange::Transferred {
                from: sample::bob(),
                to: UserId::parse("carol").expect("valid"),
                note: Some("billing question".into()),
            },
            ts: sample::TS,
        })
    },
}];

/// Encodes in the current version.
pub(crate) fn encode(s: &SessionChanged) -> (u32, Vec<u8>) {
    (1, to_vec(&ServiceSessionChangedV1::from(s)))
}

impl TryFrom<ServiceSessionChangedV1> for SessionChanged {
    type Error = IdError;
    fn try_from(w: ServiceSessionChangedV1) -> Result<Self, IdError> {
        let change = match w.change {
            SessionChangeV1::Assigned { agent } => SessionChange::Assigned {
                agent: UserId::parse(agent)?,
            },
            SessionChangeV1::Queued { position } => SessionChange::Queued { position },
            SessionChangeV1::Taken => SessionChange::Taken,
            SessionChangeV1::Transferred { from, to, note } => SessionChange::Transferred {
                from: UserId::parse(from)?,
                to: UserId::parse(to)?,
                note,
            },
            SessionChangeV1::Closed { by, agent } => SessionChange::Closed {
                by: UserId::parse(by)?,
                agent: agent.map(UserId::parse).transpose()?,
            },
            SessionChangeV1::Requeued { from } => SessionChange::Requeued {
                from: UserId::parse(from)?,
            },
        };
        Ok(SessionChanged {
            app: AppId::parse(w.app)?,
            service: UserId::parse(w.service)?,
            customer: UserId::parse(w.customer)?,
            session: w.session,
            change,
            ts: w.ts,
        })
    }
}

impl From<&SessionChanged> for ServiceSessionChangedV1 {
    fn from(s: &SessionChanged) -> Self {
        let change = match &s.change {
            SessionChange::Assigned { agent } => SessionChangeV1::Assigned {
                agent: agent.to_string(),
            },
            SessionChange::Queued { position } => SessionChangeV1::Queued {
                position: *position,
            },
            SessionChange::Taken => SessionChangeV1::Taken,
            SessionChange::Transferred { from, to, note } => SessionChangeV1::Transferred {
                from: from.to_string(),
                to: to.to_string(),
                note: note.clone(),
            },
            SessionChange::Closed { by, agent } => SessionChangeV1::Closed {
                by: by.to_string(),
                agent: agent.as_ref().map(ToString::to_string),
            },
            SessionChange::Requeued { from } => SessionChangeV1::Requeued {
                from: from.to_string(),
            },
        };
        ServiceSessionChangedV1 {
            app: s.app.to_string(),
            service: s.service.to_string(),
            customer: s.customer.to_string(),
            session: s.session,
            change,
            ts: s.ts,
        }
    }
}
