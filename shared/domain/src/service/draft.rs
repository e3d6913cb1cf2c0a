//! A decision of the service aggregate in progress: each event is applied to a copy of the
//! state as it is drafted, so a later event of the same decision (a drained queue after a close,
//! a requeue after a detach) sees the loads and queue the earlier ones left.

use super::{
    RosterChange, RosterChanged, ServiceCommand, ServiceMessageSent, ServiceSend, ServiceState,
    SessionChange, SessionChanged, pick,
};
use crate::aggregate::Aggregate;
use crate::{DomainError, Event, UserId};

/// A decision in progress: the events so far, and the state they lead to (a later event of
/// the same decision sees the loads and queue the earlier ones left).
pub(super) struct Draft<'a> {
    pub(super) state: ServiceState,
    pub(super) command: &'a ServiceCommand,
    pub(super) events: Vec<Event>,
}

impl Draft<'_> {
    fn push(&mut self, event: Event) {
        self.state.apply(&event);
        self.events.push(event);
    }

    pub(super) fn roster(&mut self, change: RosterChange) {
        let c = self.command;
        self.push(Event::ServiceRosterChanged(RosterChanged {
            app: c.app.clone(),
            service: c.service.clone(),
            change,
            ts: c.ts,
        }));
    }

    pub(super) fn session(&mut self, customer: &UserId, session: u64, change: SessionChange) {
        let c = self.command;
        self.push(Event::ServiceSessionChanged(SessionChanged {
            app: c.app.clone(),
            service: c.service.clone(),
            customer: customer.clone(),
            session,
            change,
            ts: c.ts,
        }));
    }

    /// Assigns `customer`'s session by the strategy, or queues it.
    pub(super) fn place(&mut self, customer: &UserId, session: u64) {
        let s = &self.state;
        let last_agent = s
            .customers
            .get(customer)
            .and_then(|c| c.last_agent.as_ref());
        let change = match pick(s.strategy, &s.agents, last_agent, s.last_assigned.as_ref()) {
            Some(agent) => SessionChange::Assigned { agent },
            None => SessionChange::Queued {
                position: s.queue.len() as u64 + 1,
            },
        };
        self.session(customer, session, change);
    }

    /// Assigns queued customers, first in line first, while an agent has room.
    pub(super) fn drain(&mut self) {
        while let Some(customer) = self.state.queue.front().cloned() {
            let s = &self.state;
            let last_agent = s
                .customers
                .get(&customer)
                .and_then(|c| c.last_agent.as_ref());
            let Some(agent) = pick(s.strategy, &s.agents, last_agent, s.last_assigned.as_ref())
            else {
                return;
            };
            let session = s.session(&customer).map_or(1, |o| o.number);
            self.session(&customer, session, SessionChange::Assigned { agent });
        }
    }

    pub(super) fn send(&mut self, send: &ServiceSend) -> Result<(), DomainError> {
        let (c, s) = (self.command, &self.state);
        send.body.validate(send.limits)?;
        let from_customer = send.from == send.customer;
        if from_customer && (send.customer == c.service || s.agents.contains_key(&send.customer)) {
            return Err(DomainError::Invalid(
                "the service account and its agents answer customers; they are not customers"
                    .into(),
            ));
        }
        let session = match s.session(&send.customer) {
            Some(open) => open.number,
            None if from_customer => {
                let number = s.customers.get(&send.customer).map_or(0, |r| r.sessions) + 1;
                self.place(&send.customer, number);
                number
            }
            None => {
                return Err(DomainError::NotFound(format!(
                    "an open session of {}",
                    send.customer
                )));
            }
        };
        let holder = self
            .state
            .session(&send.customer)
            .and_then(|o| o.agent.clone());
        if !from_customer {
            let is_service = send.from == c.service;
            if !is_service && holder.as_ref() != Some(&send.from) {
                return Err(DomainError::Forbidden(
                    "only the agent serving the customer, or the service account, may answer"
                        .into(),
                ));
            }
            if is_service && holder.is_none() {
                self.session(&send.customer, session, SessionChange::Taken);
            }
        }
        let agent = self
            .state
            .session(&send.customer)
            .and_then(|o| o.agent.clone());
        let conv_seq = self.state.last_conv_seq(&send.customer) + 1;
        self.push(Event::ServiceMessageSent(ServiceMessageSent {
            app: c.app.clone(),
            service: c.service.clone(),
            customer: send.customer.clone(),
            msg_id: send.msg_id.clone(),
            conv_seq,
            from: send.from.clone(),
            agent,
            session,
            client_msg_id: send.client_msg_id.clone(),
            body: send.body.clone(),
            ts: c.ts,
        }));
        Ok(())
    }
}
