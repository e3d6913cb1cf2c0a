//! The pure fold: one event in, the read-model writes it implies out.

use tidings_domain::event::MessageSent;
use tidings_domain::{Event, Recipient, UserId};
use tidings_events::Envelope;
use tidings_store::{EntryItem, MessageView, Write};

/// The users whose inbox receives a message (write diffusion): the sender too, for their
/// other devices.
fn recipients(message: &MessageSent) -> Vec<UserId> {
    match &message.to {
        Recipient::User(to) if to == &message.from => vec![message.from.clone()],
        Recipient::User(to) => vec![message.from.clone(), to.clone()],
        // Groups are not decided by the api yet, so no group message reaches the stream.
        Recipient::Group(_) => vec![message.from.clone()],
    }
}

/// The writes for one event, in the order they must apply.
pub fn project(envelope: &Envelope) -> Vec<Write> {
    match &envelope.event {
        Event::UserRegistered(profile) | Event::UserProfileUpdated(profile) => {
            vec![Write::PutUser(profile.clone())]
        }
        Event::MessageSent(message) => {
            let view = MessageView::from(message);
            let mut writes = vec![Write::Timeline {
                app: message.app.clone(),
                ts: message.ts,
                message: view.clone(),
            }];
            for user in recipients(message) {
                writes.push(Write::Deliver {
                    app: message.app.clone(),
                    user: user.clone(),
                    ts: message.ts,
                    item: EntryItem::Message(view.clone()),
                });
                writes.push(Write::ConversationMessage {
                    app: message.app.clone(),
                    user,
                    ts: message.ts,
                    message: view.clone(),
                });
            }
            writes
        }
    }
}

#[cfg(test)]
mod tests {
    //! Given an event, then these writes.
    use super::*;
    use tidings_domain::event::UserProfile;
    use tidings_domain::{AppId, Body, ClientMsgId, ConvId, MessageId};

    fn id(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn sent(from: &str, to: &str) -> Envelope {
        let (from, to) = (id(from), id(to));
        Envelope {
            stream_seq: 9,
            subject: "tid.evt.demo.conv.x".into(),
            event: Event::MessageSent(MessageSent {
                app: AppId::parse("demo").unwrap(),
                conv: ConvId::direct(&from, &to),
                msg_id: MessageId::parse("019b7b1c-3a00-7000-8000-000000000001").unwrap(),
                conv_seq: 4,
                from,
                to: Recipient::User(to),
                client_msg_id: ClientMsgId::parse("c1").unwrap(),
                body: Body::Text { text: "hi".into() },
                ts: 77,
            }),
        }
    }

    fn delivered_to(writes: &[Write]) -> Vec<&str> {
        writes
            .iter()
            .filter_map(|w| match w {
                Write::Deliver { user, .. } => Some(user.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_direct_message_reaches_both_inboxes_and_the_timeline() {
        let writes = project(&sent("alice", "bob"));
        assert_eq!(delivered_to(&writes), ["alice", "bob"]);
        assert!(
            matches!(&writes[0], Write::Timeline { message, ts: 77, .. } if message.conv_seq == 4)
        );
        let conv_rows = writes
            .iter()
            .filter(|w| matches!(w, Write::ConversationMessage { .. }))
            .count();
        assert_eq!(conv_rows, 2);
    }

    #[test]
    fn a_note_to_self_is_delivered_once() {
        let writes = project(&sent("alice", "alice"));
        assert_eq!(delivered_to(&writes), ["alice"]);
    }

    #[test]
    fn a_profile_becomes_a_user_row() {
        let profile = UserProfile {
            app: AppId::parse("demo").unwrap(),
            user: id("alice"),
            name: "Alice".into(),
            avatar_url: None,
            extra: None,
            version: 1,
            ts: 1,
        };
        let envelope = Envelope {
            stream_seq: 1,
            subject: "tid.evt.demo.user.alice".into(),
            event: Event::UserRegistered(profile.clone()),
        };
        assert_eq!(project(&envelope), vec![Write::PutUser(profile)]);
    }
}
