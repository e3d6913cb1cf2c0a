//! What the customer of a service conversation sees: the service account as the sender of
//! every business message, and never which agent handled it. The read models keep one, business
//! form of each message (the timeline row every inbox entry refers to); every read and push of a
//! message to a user goes through [`mask`], so the customer's view is made in one place.

use std::sync::Arc;
use tidings_domain::{Recipient, UserId};
use tidings_store::MessageView;

/// Rewrites `views` for `viewer`: in a service conversation whose customer `viewer` is, a
/// business message comes from the service and names no agent. Other views are left alone (a
/// view shared with other entries, as a live push's is, is copied before it is changed).
pub fn mask<'a>(views: impl IntoIterator<Item = &'a mut Arc<MessageView>>, viewer: &UserId) {
    for view in views {
        let Some((service, customer)) = view.conv.service_parts() else {
            continue;
        };
        if &customer != viewer {
            continue;
        }
        let view = Arc::make_mut(view);
        if view.from != customer {
            view.from = service;
            view.to = Recipient::User(customer);
        }
        view.agent = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_domain::{Body, ConvId, MessageId};

    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    fn reply() -> MessageView {
        let id = MessageId::parse("019b7b1c-3a00-7000-8000-000000000011").unwrap();
        let (conv, to) = (ConvId::service(&u("acme"), &u("carol")), u("carol"));
        let body = Body::Text { text: "hi".into() };
        MessageView {
            body: None,
            agent: Some(u("agent1")),
            session: Some(1),
            ..MessageView::sent(conv, 2, id, u("agent1"), Recipient::User(to), body)
        }
    }

    #[test]
    fn the_customer_sees_the_service_and_the_business_side_sees_the_agent() {
        let stored = Arc::new(reply());
        let mut seen = Arc::clone(&stored);
        mask([&mut seen], &u("carol"));
        assert_eq!((seen.from.as_str(), &seen.agent), ("acme", &None));
        assert_eq!(*stored, reply(), "a shared view is copied, not changed");
        let mut business = Arc::clone(&stored);
        mask([&mut business], &u("acme"));
        assert!(
            Arc::ptr_eq(&business, &stored),
            "a view left alone is not copied"
        );
    }
}
