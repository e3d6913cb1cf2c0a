//! Service conversations into the read models. A message is written once to the conversation's
//! timeline in its business form (the real sender, the handling agent, the session), and
//! diffused to the inboxes and conversation rows of the customer, the service account and the
//! agent serving the session: each side's own rows, so a removal is per user. The customer's
//! view of a business message (the service as sender, no agent) is made where it is read: the
//! gateway's `service_view`. Session changes reach the business side only.

use std::sync::Arc;
use tidings_domain::service::{ServiceMessageSent, SessionChange, SessionChanged};
use tidings_domain::{Recipient, UserId};
use tidings_store::{EntryItem, MessageView, ServiceNotice, Write};

/// The message as the business side sees it: to the service when the customer wrote, to the
/// customer when the business side did.
fn view(m: &ServiceMessageSent) -> MessageView {
    let conv = m.conv();
    let to = if m.from == m.customer {
        Recipient::Service(m.service.clone())
    } else {
        Recipient::User(m.customer.clone())
    };
    let (msg_id, from, body) = (m.msg_id.clone(), m.from.clone(), m.body.clone());
    MessageView {
        agent: m.agent.clone(),
        session: Some(m.session),
        ..MessageView::sent(conv, m.conv_seq, msg_id, from, to, body)
    }
}

/// Each user once, in order.
fn distinct(users: impl IntoIterator<Item = UserId>) -> Vec<UserId> {
    let mut out: Vec<UserId> = Vec::new();
    for user in users {
        if !out.contains(&user) {
            out.push(user);
        }
    }
    out
}

/// The writes of one service message.
pub fn project_service_message(m: &ServiceMessageSent, cursor: u64) -> Vec<Write> {
    let head = Arc::new(view(m));
    let mut writes = vec![Write::Timeline {
        app: m.app.clone(),
        ts: m.ts,
        message: Arc::clone(&head),
    }];
    let readers = [m.customer.clone(), m.service.clone()]
        .into_iter()
        .chain(m.agent.clone())
        .chain((m.from != m.customer).then(|| m.from.clone()));
    for user in distinct(readers) {
        writes.push(Write::Deliver {
            app: m.app.clone(),
            user: user.clone(),
            ts: m.ts,
            item: EntryItem::Message(Arc::clone(&head)),
            cursor,
        });
        writes.push(Write::ConversationMessage {
            app: m.app.clone(),
            user,
            ts: m.ts,
            message: Arc::clone(&head),
        });
    }
    writes
}

/// The writes of one session change: a notice to the service account and the agents involved.
pub fn project_service_session(s: &SessionChanged, cursor: u64) -> Vec<Write> {
    let mut notice = ServiceNotice {
        conv: s.conv(),
        service: s.service.clone(),
        customer: s.customer.clone(),
        session: s.session,
        change: String::new(),
        agent: None,
        from: None,
        note: None,
        position: None,
    };
    let (change, agent) = match &s.change {
        SessionChange::Assigned { agent } => ("assigned", Some(agent.clone())),
        SessionChange::Queued { position } => {
            notice.position = Some(*position);
            ("queued", None)
        }
        SessionChange::Taken => ("taken", Some(s.service.clone())),
        SessionChange::Transferred { from, to, note } => {
            notice.from = Some(from.clone());
            notice.note = note.clone();
            ("transferred", Some(to.clone()))
        }
        SessionChange::Closed { agent, .. } => ("closed", agent.clone()),
        SessionChange::Requeued { from } => ("requeued", Some(from.clone())),
    };
    notice.change = change.to_owned();
    notice.agent = agent.clone();
    let readers = [s.service.clone()]
        .into_iter()
        .chain(agent)
        .chain(notice.from.clone());
    distinct(readers)
        .into_iter()
        .map(|user| Write::Deliver {
            app: s.app.clone(),
            user,
            ts: s.ts,
            item: EntryItem::ServiceSession(notice.clone()),
            cursor,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_domain::{AppId, Body, ClientMsgId, MessageId};

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn users(writes: &[Write]) -> Vec<String> {
        writes
            .iter()
            .filter_map(|w| match w {
                Write::Deliver { user, .. } => Some(user.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_message_reaches_the_customer_the_service_and_the_serving_agent_once_each() {
        let m = ServiceMessageSent {
            app: AppId::parse("demo").unwrap(),
            service: u("acme"),
            customer: u("carol"),
            msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000011").unwrap(),
            conv_seq: 2,
            from: u("agent1"),
            agent: Some(u("agent1")),
            session: 1,
            client_msg_id: ClientMsgId::parse("c1").unwrap(),
            body: Body::Text { text: "hi".into() },
            ts: 5,
        };
        let writes = project_service_message(&m, 9);
        assert_eq!(users(&writes), ["carol", "acme", "agent1"]);
        let Write::Timeline { message, .. } = &writes[0] else {
            panic!("timeline first")
        };
        assert_eq!(message.agent, Some(u("agent1")));
        assert_eq!(message.to, Recipient::User(u("carol")));
    }

    #[test]
    fn session_changes_reach_the_business_side_only() {
        let s = SessionChanged {
            app: AppId::parse("demo").unwrap(),
            service: u("acme"),
            customer: u("carol"),
            session: 1,
            change: SessionChange::Transferred {
                from: u("a1"),
                to: u("a2"),
                note: Some("vip".into()),
            },
            ts: 5,
        };
        assert_eq!(users(&project_service_session(&s, 9)), ["acme", "a2", "a1"]);
    }
}
