//! Customer-service accounts: the app server makes a user a service and attaches its agents;
//! customers write to the service, the business side (its agents and the service account)
//! answers, takes, transfers and closes sessions. Every decision is the service aggregate's, on
//! the service's subject (`tidings_domain::service`).

use super::{Commands, Sent, now_millis, observed};
use crate::aggregate::Recorded;
use crate::error::{ApiError, ErrorCode};
use serde::Serialize;
use tidings_domain::service::{ServiceAction, ServiceCommand, ServiceSend, ServiceState, Strategy};
use tidings_domain::{AppId, Body, ClientMsgId, ConvId, MessageId, UserId};

/// One agent of a service, as the business side sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentView {
    pub agent: UserId,
    pub capacity: u32,
    pub available: bool,
    /// Customers served now.
    pub load: u32,
}

/// A service as the business side sees it: its agents and its queue (first in line first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceView {
    pub service: UserId,
    pub strategy: Strategy,
    pub agents: Vec<AgentView>,
    pub queue: Vec<UserId>,
}

impl ServiceView {
    fn of(state: &ServiceState, service: &UserId) -> Self {
        ServiceView {
            service: service.clone(),
            strategy: state.strategy,
            agents: state
                .agents
                .iter()
                .map(|(agent, a)| AgentView {
                    agent: agent.clone(),
                    capacity: a.capacity,
                    available: a.available,
                    load: a.load,
                })
                .collect(),
            queue: state.queue.iter().cloned().collect(),
        }
    }
}

/// A customer's session as the business side sees it after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    pub conv: ConvId,
    pub customer: UserId,
    /// The open session's number; absent once closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    /// Who serves it; absent while queued or closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<UserId>,
    /// Where it waits (1: next), while queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

impl SessionView {
    fn of(state: &ServiceState, service: &UserId, customer: &UserId) -> Self {
        let open = state.session(customer);
        SessionView {
            conv: ConvId::service(service, customer),
            customer: customer.clone(),
            session: open.map(|s| s.number),
            agent: open.and_then(|s| s.agent.clone()),
            position: state.queue_position(customer),
        }
    }
}

fn not_business() -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        "only the service account and its agents may do this",
    )
}

impl Commands {
    async fn on_service<R>(
        &self,
        app: &AppId,
        service: &UserId,
        action: ServiceAction,
        reply: impl FnOnce(&ServiceState) -> R,
    ) -> Result<Recorded<R>, ApiError> {
        let command = ServiceCommand {
            app: app.clone(),
            service: service.clone(),
            ts: now_millis(),
            action,
        };
        self.0
            .services
            .execute_then(app, service.as_str(), &command, reply)
            .await
    }

    /// Makes `service` a service account assigning by `strategy` (again: changes the strategy).
    pub async fn open_service(
        &self,
        app: &AppId,
        service: &UserId,
        strategy: Strategy,
    ) -> Result<Recorded<ServiceView>, ApiError> {
        observed("service_open", async {
            self.require_active(app, service).await?;
            let action = ServiceAction::Open { strategy };
            self.on_service(app, service, action, |s| ServiceView::of(s, service))
                .await
        })
        .await
    }

    /// Attaches `agent` to `service` with `capacity` (or changes its capacity); queued
    /// customers are assigned to it at once.
    pub async fn attach_agent(
        &self,
        app: &AppId,
        service: &UserId,
        agent: &UserId,
        capacity: u32,
    ) -> Result<Recorded<ServiceView>, ApiError> {
        observed("service_attach", async {
            self.require_reachable(app, agent).await?;
            let action = ServiceAction::Attach {
                agent: agent.clone(),
                capacity,
            };
            self.on_service(app, service, action, |s| ServiceView::of(s, service))
                .await
        })
        .await
    }

    /// Detaches `agent` from `service`; the customers it served are assigned again or queued.
    pub async fn detach_agent(
        &self,
        app: &AppId,
        service: &UserId,
        agent: &UserId,
    ) -> Result<Recorded<ServiceView>, ApiError> {
        observed("service_detach", async {
            let action = ServiceAction::Detach {
                agent: agent.clone(),
            };
            self.on_service(app, service, action, |s| ServiceView::of(s, service))
                .await
        })
        .await
    }

    /// Sets an agent available (takes new customers) or away.
    pub async fn set_agent_available(
        &self,
        app: &AppId,
        service: &UserId,
        agent: &UserId,
        available: bool,
    ) -> Result<Recorded<ServiceView>, ApiError> {
        observed("service_availability", async {
            let action = ServiceAction::SetAvailable {
                agent: agent.clone(),
                available,
            };
            self.on_service(app, service, action, |s| ServiceView::of(s, service))
                .await
        })
        .await
    }

    /// A message in `customer`'s conversation with `service`, from the customer (their first
    /// message without an open session opens one) or from the business side (the agent serving
    /// the session, or the service account). Idempotent on (`from`, `client_msg_id`).
    pub async fn service_send(
        &self,
        app: &AppId,
        service: &UserId,
        customer: &UserId,
        from: &UserId,
        client_msg_id: ClientMsgId,
        body: Body,
    ) -> Result<Sent, ApiError> {
        observed("service_send", async {
            self.require_active(app, from).await?;
            if body.attachment().is_some() {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    "service conversations carry text and custom bodies only",
                ));
            }
            let send = ServiceSend {
                customer: customer.clone(),
                from: from.clone(),
                client_msg_id: client_msg_id.clone(),
                body,
                msg_id: MessageId::parse(uuid::Uuid::now_v7().to_string())
                    .expect("uuid text is a valid message id"),
                limits: self.0.limits,
            };
            let recorded = self
                .on_service(app, service, ServiceAction::Send(send), |s| {
                    s.receipt(customer, from, &client_msg_id)
                })
                .await?;
            let receipt = recorded.value.ok_or_else(|| {
                tracing::error!(%service, %customer, %from, "a recorded service send has no receipt");
                ApiError::new(ErrorCode::Internal, "the message's receipt is missing")
            })?;
            Ok(Sent {
                msg_id: receipt.msg_id,
                conv: ConvId::service(service, customer),
                conv_seq: receipt.conv_seq,
                ts: receipt.ts,
                pos: recorded.pos,
            })
        })
        .await
    }

    /// The service account takes a queued customer itself.
    pub async fn take_customer(
        &self,
        app: &AppId,
        service: &UserId,
        customer: &UserId,
    ) -> Result<Recorded<SessionView>, ApiError> {
        observed("service_take", async {
            let action = ServiceAction::Take {
                customer: customer.clone(),
            };
            self.on_service(app, service, action, |s| {
                SessionView::of(s, service, customer)
            })
            .await
        })
        .await
    }

    /// Moves `customer`'s session to agent `to` (or the service account), by the agent serving
    /// it or the service account.
    pub async fn transfer_customer(
        &self,
        app: &AppId,
        service: &UserId,
        by: &UserId,
        customer: &UserId,
        to: &UserId,
        note: Option<String>,
    ) -> Result<Recorded<SessionView>, ApiError> {
        observed("service_transfer", async {
            let action = ServiceAction::Transfer {
                by: by.clone(),
                customer: customer.clone(),
                to: to.clone(),
                note,
            };
            self.on_service(app, service, action, |s| {
                SessionView::of(s, service, customer)
            })
            .await
        })
        .await
    }

    /// Ends `customer`'s session, by the agent serving it or the service account.
    pub async fn close_session(
        &self,
        app: &AppId,
        service: &UserId,
        by: &UserId,
        customer: &UserId,
    ) -> Result<Recorded<SessionView>, ApiError> {
        observed("service_close", async {
            let action = ServiceAction::Close {
                by: by.clone(),
                customer: customer.clone(),
            };
            self.on_service(app, service, action, |s| {
                SessionView::of(s, service, customer)
            })
            .await
        })
        .await
    }

    /// The service as `viewer` (its account or one of its agents) sees it now.
    pub async fn service_view(
        &self,
        app: &AppId,
        service: &UserId,
        viewer: &UserId,
    ) -> Result<ServiceView, ApiError> {
        let (business, view) = self
            .0
            .services
            .read(app, service.as_str(), true, |s| {
                (s.is_business(service, viewer), ServiceView::of(s, service))
            })
            .await?;
        if business {
            Ok(view)
        } else {
            Err(not_business())
        }
    }

    /// Fails unless `user` is on `service`'s business side now (its account or an agent).
    pub async fn require_business(
        &self,
        app: &AppId,
        service: &UserId,
        user: &UserId,
    ) -> Result<(), ApiError> {
        let business = self
            .0
            .services
            .read(app, service.as_str(), true, |s| {
                s.is_business(service, user)
            })
            .await?;
        if business {
            Ok(())
        } else {
            Err(not_business())
        }
    }

    /// Whether `user` takes part in the service conversation `conv` (its customer, or the
    /// business side), and its newest `conv_seq`, as the service's subject says.
    pub async fn service_participant(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
    ) -> Result<Option<(bool, u64)>, ApiError> {
        let Some((service, customer)) = conv.service_parts() else {
            return Ok(None);
        };
        let answer = self
            .0
            .services
            .read(app, service.as_str(), true, |s| {
                let member = s.opened && (user == &customer || s.is_business(&service, user));
                (member, s.last_conv_seq(&customer))
            })
            .await?;
        Ok(Some(answer))
    }
}
