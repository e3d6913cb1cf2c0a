//! The `service` aggregate: a customer-service account (the master), its agents (sub-accounts)
//! and every customer's conversation with it, on one subject. A customer writes to the service
//! (`s~<service>~<customer>`); the first message without an open session opens one and assigns
//! an agent by the service's [`Strategy`], or queues the customer when no agent has room. The
//! agents' loads and the queue span all customers, so they are decided on one sequence with
//! the messages: whatever the order of arrivals, a replay assigns exactly as the live run did.
//!
//! The state grows with the number of customers (a session pointer, a `conv_seq` and a few
//! idempotency keys each).

mod assign;
mod draft;
mod events;

pub use assign::{Agent, Strategy, pick};
pub use events::{RosterChange, RosterChanged, ServiceMessageSent, SessionChange, SessionChanged};

use draft::Draft;

use crate::aggregate::Aggregate;
use crate::{AppId, Body, BodyLimits, ClientMsgId, DomainError, Event, MessageId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// How many of a conversation's newest messages a retried send is recognised against.
pub const REMEMBERED_SENDS: usize = 64;
/// The most customers one agent may serve at once.
pub const MAX_CAPACITY: u32 = 1000;

/// A customer's open session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub number: u64,
    /// Who serves it: an agent or the service account; none while queued.
    pub agent: Option<UserId>,
}

/// One customer of the service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The conversation's newest `conv_seq`.
    pub conv_seq: u64,
    /// Sessions opened so far.
    pub sessions: u64,
    pub open: Option<Session>,
    /// The agent who served the customer last (for `sticky`).
    pub last_agent: Option<UserId>,
}

/// A conversation's newest sends: (sender, client_msg_id) and what was recorded.
type Sends = VecDeque<(UserId, ClientMsgId, Receipt)>;

/// What the sender of a service message is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub msg_id: MessageId,
    pub conv_seq: u64,
    pub ts: i64,
}

/// A service's state folded from its subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceState {
    /// Whether the user is a service account.
    pub opened: bool,
    pub strategy: Strategy,
    pub agents: BTreeMap<UserId, Agent>,
    pub customers: HashMap<UserId, Customer>,
    /// Customers waiting for an agent, first in line first.
    pub queue: VecDeque<UserId>,
    /// The agent assigned last (for `round_robin`).
    pub last_assigned: Option<UserId>,
    /// Each customer's conversation's newest sends, for retries. Kept apart from `customers`
    /// so a decision's draft copies the state without them (they are most of its size).
    sends: HashMap<UserId, Sends>,
}

impl ServiceState {
    /// The receipt of the message `from` sent to `customer`'s conversation with `client_msg_id`,
    /// while among its newest [`REMEMBERED_SENDS`].
    pub fn receipt(
        &self,
        customer: &UserId,
        from: &UserId,
        client_msg_id: &ClientMsgId,
    ) -> Option<Receipt> {
        self.sends
            .get(customer)?
            .iter()
            .find_map(|(f, c, r)| (f == from && c == client_msg_id).then(|| r.clone()))
    }

    /// The customer's open session.
    pub fn session(&self, customer: &UserId) -> Option<&Session> {
        self.customers.get(customer)?.open.as_ref()
    }

    /// Where `customer` waits in the queue (1: next), if queued.
    pub fn queue_position(&self, customer: &UserId) -> Option<u64> {
        self.queue
            .iter()
            .position(|c| c == customer)
            .map(|at| at as u64 + 1)
    }

    /// Whether `user` is on the business side: the service account or an attached agent.
    pub fn is_business(&self, service: &UserId, user: &UserId) -> bool {
        self.opened && (user == service || self.agents.contains_key(user))
    }

    /// The newest `conv_seq` of `customer`'s conversation (0: none).
    pub fn last_conv_seq(&self, customer: &UserId) -> u64 {
        self.customers.get(customer).map_or(0, |c| c.conv_seq)
    }
}

/// What may be asked of a service. `service` is the aggregate's id; `ts` and `msg_id` are the
/// caller's (the domain has no clock).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceCommand {
    pub app: AppId,
    pub service: UserId,
    pub ts: i64,
    pub action: ServiceAction,
}

/// The actions on a service.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceAction {
    /// Make the user a service account (again: change its strategy).
    Open { strategy: Strategy },
    /// Attach an agent, or change its capacity.
    Attach { agent: UserId, capacity: u32 },
    /// Detach an agent; its sessions are requeued.
    Detach { agent: UserId },
    /// An agent is available or away.
    SetAvailable { agent: UserId, available: bool },
    /// A message in `customer`'s conversation, by the customer or the business side.
    Send(ServiceSend),
    /// The service account takes a queued customer.
    Take { customer: UserId },
    /// Move a session to another agent (or the service account), by its holder or the service.
    Transfer {
        by: UserId,
        customer: UserId,
        to: UserId,
        note: Option<String>,
    },
    /// End a session, by its holder or the service.
    Close { by: UserId, customer: UserId },
}

/// A message of a service conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSend {
    pub customer: UserId,
    pub from: UserId,
    pub client_msg_id: ClientMsgId,
    pub body: Body,
    pub msg_id: MessageId,
    pub limits: BodyLimits,
}

/// Longest transfer note, in bytes.
pub const MAX_NOTE_BYTES: usize = 500;

impl Aggregate for ServiceState {
    const KIND: &'static str = "service";
    type Command = ServiceCommand;

    fn decide(&self, command: &ServiceCommand) -> Result<Vec<Event>, DomainError> {
        let mut draft = Draft {
            state: self.without_sends(),
            command,
            events: Vec::new(),
        };
        if !self.opened && !matches!(command.action, ServiceAction::Open { .. }) {
            return Err(DomainError::NotFound(format!(
                "service {}",
                command.service
            )));
        }
        match &command.action {
            ServiceAction::Open { strategy } => {
                if self.opened && self.strategy == *strategy {
                    return Ok(Vec::new());
                }
                draft.roster(RosterChange::Opened {
                    strategy: *strategy,
                });
            }
            ServiceAction::Attach { agent, capacity } => {
                if agent == &command.service {
                    return Err(DomainError::Invalid(
                        "the service account cannot be its own agent".into(),
                    ));
                }
                if !(1..=MAX_CAPACITY).contains(capacity) {
                    return Err(DomainError::Invalid(format!(
                        "capacity must be 1-{MAX_CAPACITY}"
                    )));
                }
                if self.agents.get(agent).map(|a| a.capacity) == Some(*capacity) {
                    return Ok(Vec::new());
                }
                draft.roster(RosterChange::AgentAttached {
                    agent: agent.clone(),
                    capacity: *capacity,
                });
                draft.drain();
            }
            ServiceAction::Detach { agent } => {
                if !self.agents.contains_key(agent) {
                    return Ok(Vec::new());
                }
                let mut held: Vec<(UserId, u64)> = self
                    .customers
                    .iter()
                    .filter_map(|(id, c)| {
                        let s = c.open.as_ref()?;
                        (s.agent.as_ref() == Some(agent)).then(|| (id.clone(), s.number))
                    })
                    .collect();
                held.sort();
                draft.roster(RosterChange::AgentDetached {
                    agent: agent.clone(),
                });
                for (customer, session) in held {
                    draft.session(
                        &customer,
                        session,
                        SessionChange::Requeued {
                            from: agent.clone(),
                        },
                    );
                    draft.place(&customer, session);
                }
            }
            ServiceAction::SetAvailable { agent, available } => {
                let Some(current) = self.agents.get(agent) else {
                    return Err(DomainError::NotFound(format!(
                        "agent {agent} of service {}",
                        command.service
                    )));
                };
                if current.available == *available {
                    return Ok(Vec::new());
                }
                draft.roster(RosterChange::AgentAvailability {
                    agent: agent.clone(),
                    available: *available,
                });
                draft.drain();
            }
            ServiceAction::Send(send) => {
                if self
                    .receipt(&send.customer, &send.from, &send.client_msg_id)
                    .is_some()
                {
                    return Ok(Vec::new());
                }
                draft.send(send)?;
            }
            ServiceAction::Take { customer } => {
                let session = self.open_session(customer)?;
                match &session.agent {
                    None => draft.session(customer, session.number, SessionChange::Taken),
                    Some(holder) if holder == &command.service => return Ok(Vec::new()),
                    Some(_) => {
                        return Err(DomainError::Conflict(
                            "an agent serves this customer: transfer the session instead".into(),
                        ));
                    }
                }
            }
            ServiceAction::Transfer {
                by,
                customer,
                to,
                note,
            } => {
                let session = self.open_session(customer)?;
                let holder = self.may_act(&command.service, by, session)?;
                if note.as_ref().is_some_and(|n| n.len() > MAX_NOTE_BYTES) {
                    return Err(DomainError::TooLarge(format!(
                        "a transfer note is at most {MAX_NOTE_BYTES} bytes"
                    )));
                }
                if to != &command.service {
                    match self.agents.get(to) {
                        None => {
                            return Err(DomainError::NotFound(format!(
                                "agent {to} of service {}",
                                command.service
                            )));
                        }
                        Some(agent) if !agent.has_room() => {
                            return Err(DomainError::Conflict(format!(
                                "agent {to} is away or at capacity"
                            )));
                        }
                        Some(_) => {}
                    }
                }
                if session.agent.as_ref() == Some(to) {
                    return Ok(Vec::new());
                }
                let change = SessionChange::Transferred {
                    from: holder.unwrap_or_else(|| command.service.clone()),
                    to: to.clone(),
                    note: note.clone(),
                };
                draft.session(customer, session.number, change);
                draft.drain();
            }
            ServiceAction::Close { by, customer } => {
                let Some(session) = self.session(customer) else {
                    return Ok(Vec::new());
                };
                let agent = self.may_act(&command.service, by, session)?;
                let change = SessionChange::Closed {
                    by: by.clone(),
                    agent,
                };
                draft.session(customer, session.number, change);
                draft.drain();
            }
        }
        Ok(draft.events)
    }

    fn apply(&mut self, event: &Event) {
        match event {
            Event::ServiceRosterChanged(r) => self.roster_changed(&r.change),
            Event::ServiceSessionChanged(s) => self.session_changed(s),
            Event::ServiceMessageSent(m) => {
                let customer = self.customers.entry(m.customer.clone()).or_default();
                customer.conv_seq = customer.conv_seq.max(m.conv_seq);
                let receipt = Receipt {
                    msg_id: m.msg_id.clone(),
                    conv_seq: m.conv_seq,
                    ts: m.ts,
                };
                let sends = self.sends.entry(m.customer.clone()).or_default();
                sends.push_back((m.from.clone(), m.client_msg_id.clone(), receipt));
                if sends.len() > REMEMBERED_SENDS {
                    sends.pop_front();
                }
            }
            _ => {}
        }
    }
}

impl ServiceState {
    /// A copy without the retry records: what a decision's draft needs (a retry is recognised
    /// on the state itself, before anything is drafted).
    fn without_sends(&self) -> ServiceState {
        ServiceState {
            opened: self.opened,
            strategy: self.strategy,
            agents: self.agents.clone(),
            customers: self.customers.clone(),
            queue: self.queue.clone(),
            last_assigned: self.last_assigned.clone(),
            sends: HashMap::new(),
        }
    }

    fn open_session(&self, customer: &UserId) -> Result<&Session, DomainError> {
        self.session(customer)
            .ok_or_else(|| DomainError::NotFound(format!("an open session of {customer}")))
    }

    /// Whether `by` may hand over or end `session`: its holder or the service account itself
    /// (answers the holder).
    fn may_act(
        &self,
        service: &UserId,
        by: &UserId,
        session: &Session,
    ) -> Result<Option<UserId>, DomainError> {
        if session.agent.as_ref() == Some(by) || by == service {
            Ok(session.agent.clone())
        } else {
            Err(DomainError::Forbidden(
                "only the agent serving the customer, or the service account, may do this".into(),
            ))
        }
    }

    fn roster_changed(&mut self, change: &RosterChange) {
        match change {
            RosterChange::Opened { strategy } => {
                self.opened = true;
                self.strategy = *strategy;
            }
            RosterChange::AgentAttached { agent, capacity } => {
                let entry = self.agents.entry(agent.clone()).or_insert(Agent {
                    capacity: *capacity,
                    available: true,
                    load: 0,
                });
                entry.capacity = *capacity;
            }
            RosterChange::AgentDetached { agent } => {
                self.agents.remove(agent);
            }
            RosterChange::AgentAvailability { agent, available } => {
                if let Some(entry) = self.agents.get_mut(agent) {
                    entry.available = *available;
                }
            }
        }
    }

    /// Frees `agent`'s seat, if it is an agent (the service account has no capacity).
    fn release(&mut self, agent: Option<&UserId>) {
        if let Some(entry) = agent.and_then(|a| self.agents.get_mut(a)) {
            entry.load = entry.load.saturating_sub(1);
        }
    }

    fn seat(&mut self, customer: &UserId, holder: &UserId) {
        if let Some(entry) = self.agents.get_mut(holder) {
            entry.load += 1;
        }
        self.queue.retain(|c| c != customer);
        let record = self.customers.entry(customer.clone()).or_default();
        if let Some(open) = record.open.as_mut() {
            open.agent = Some(holder.clone());
        }
        record.last_agent = Some(holder.clone());
    }

    fn session_changed(&mut self, s: &SessionChanged) {
        let record = self.customers.entry(s.customer.clone()).or_default();
        if record.open.as_ref().map(|o| o.number) != Some(s.session) {
            record.sessions = record.sessions.max(s.session);
            record.open = Some(Session {
                number: s.session,
                agent: None,
            });
        }
        let holder = record.open.as_ref().and_then(|o| o.agent.clone());
        match &s.change {
            SessionChange::Assigned { agent } => {
                self.release(holder.as_ref());
                self.seat(&s.customer, agent);
                self.last_assigned = Some(agent.clone());
            }
            SessionChange::Queued { .. } => {
                if !self.queue.contains(&s.customer) {
                    self.queue.push_back(s.customer.clone());
                }
            }
            SessionChange::Taken => self.seat(&s.customer, &s.service),
            SessionChange::Transferred { to, .. } => {
                self.release(holder.as_ref());
                self.seat(&s.customer, to);
            }
            SessionChange::Closed { .. } => {
                self.release(holder.as_ref());
                self.queue.retain(|c| c != &s.customer);
                if let Some(record) = self.customers.get_mut(&s.customer) {
                    record.open = None;
                }
            }
            SessionChange::Requeued { .. } => {
                self.release(holder.as_ref());
                if let Some(open) = self
                    .customers
                    .get_mut(&s.customer)
                    .and_then(|r| r.open.as_mut())
                {
                    open.agent = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
