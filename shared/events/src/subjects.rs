//! Every NATS subject Tidings uses is built here, never with `format!` at a call site.

use tidings_domain::{AppId, UserId};

/// The events stream's name.
pub const EVENTS_STREAM: &str = "TIDINGS_EVENTS";
/// The dead-letter stream's name.
pub const DEAD_LETTER_STREAM: &str = "TIDINGS_DEAD_LETTERS";
/// Every event subject.
pub const ALL_EVENTS: &str = "tid.evt.>";

/// Aggregate kinds, the third token of an event subject.
pub mod aggregate {
    pub const USER: &str = "user";
    pub const CONV: &str = "conv";
    pub const READS: &str = "reads";
    pub const SYSTEM: &str = "system";
    pub const APP: &str = "app";
    pub const BROADCAST: &str = "broadcast";
}

/// Every app's subject (`tid.evt.<app>.app.<app>`, see `app`).
pub const ALL_APPS: &str = "tid.evt.*.app.*";

/// An app's own subject: the app aggregate's id is its key.
pub fn app(app: &AppId) -> String {
    event(app, aggregate::APP, app.as_str())
}

/// The app key of an app subject.
pub fn parse_app(subject: &str) -> Option<&str> {
    let (app, id) = subject.strip_prefix("tid.evt.")?.split_once(".app.")?;
    (app == id).then_some(app)
}

/// The app key of an event subject (`tid.evt.<app>.<aggregate>.<id>`): a consumer can pass
/// over an app's events without decoding them.
pub fn event_app(subject: &str) -> Option<&str> {
    let (app, _) = subject.strip_prefix("tid.evt.")?.split_once('.')?;
    Some(app)
}

/// The subject of one aggregate instance: `tid.evt.<app>.<aggregate>.<id>`.
pub fn event(app: &AppId, aggregate: &str, id: &str) -> String {
    format!("tid.evt.{app}.{aggregate}.{id}")
}

/// Live deliveries to one user: `tid.push.<app>.<user>` (core NATS, not stored): inbox
/// entries (MessagePack: one entry, or with header `PUSH_KIND: entries` an array of them), and
/// typing notices (JSON, header `PUSH_KIND: typing`), so that a gateway holds one
/// subscription per connected user.
pub fn push(app: &AppId, user: &UserId) -> String {
    format!("tid.push.{app}.{user}")
}

/// A user's presence changes for app servers: `tid.presence.<app>.<user>` (core NATS). Takes
/// the ids as text: the presence folder reads them back from presence keys.
pub fn presence(app: &str, user: &str) -> String {
    format!("tid.presence.{app}.{user}")
}

/// Every integrator request: `tid.in.<app>.<command>`, where a command may have dots
/// (`messages.send`).
pub const ALL_INBOUND: &str = "tid.in.>";

/// The (app, command) of an integrator request subject.
pub fn parse_inbound(subject: &str) -> Option<(&str, &str)> {
    subject.strip_prefix("tid.in.")?.split_once('.')
}

/// Where an integrator request that could not be carried out is parked, with the reason.
pub fn dead_letter_inbound(app: &str) -> String {
    format!("tid.dlq.in.{app}")
}

/// A user's row changed in the read models (core NATS): caches of it must be dropped.
pub fn user_changed(app: &AppId, user: &UserId) -> String {
    format!("tid.inv.{app}.user.{user}")
}

/// Every user-change notice.
pub const ALL_USER_CHANGES: &str = "tid.inv.*.user.*";

/// The (app, user) of a user-change notice subject.
pub fn parse_user_changed(subject: &str) -> Option<(&str, &str)> {
    let rest = subject.strip_prefix("tid.inv.")?;
    let (app, user) = rest.split_once(".user.")?;
    Some((app, user))
}

/// A user's access ended (core NATS): every gateway closes the sessions it names.
pub fn access_ended(app: &AppId, user: &UserId) -> String {
    format!("tid.ctl.{app}.user.{user}")
}

/// Every access-ended notice.
pub const ALL_ACCESS_ENDED: &str = "tid.ctl.*.user.*";

/// The (app, user) of an access-ended subject.
pub fn parse_access_ended(subject: &str) -> Option<(&str, &str)> {
    subject.strip_prefix("tid.ctl.")?.split_once(".user.")
}

/// An app's broadcasts as they are stored (core NATS, not stored): every gateway with a
/// session of the app subscribes once and fans them out to the app's sessions.
pub fn broadcasts(app: &AppId) -> String {
    format!("tid.bcast.{app}")
}

/// Where an event no projector can read is parked, with the reason in a header.
pub fn dead_letter_event(projection: &str) -> String {
    format!("tid.dlq.evt.{projection}")
}

/// The subject an app's before-send hook answers requests on (core NATS request/reply).
pub fn before_send_hook(app: &AppId) -> String {
    format!("tid.hook.{app}.before_send")
}

/// The public feed stream's name.
pub const FEED_STREAM: &str = "TIDINGS_FEED";
/// Every feed record subject, version 1.
pub const ALL_FEED: &str = "tid.feed.v1.>";

/// A feed record of `kind` for `app`: `tid.feed.v1.<app>.<kind>`.
pub fn feed(app: &AppId, kind: &str) -> String {
    format!("tid.feed.v1.{app}.{kind}")
}

/// Every feed record of one app (a consumer's filter).
pub fn feed_of(app: &AppId) -> String {
    format!("tid.feed.v1.{app}.>")
}

/// The (app, kind) of a feed record subject.
pub fn parse_feed(subject: &str) -> Option<(&str, &str)> {
    subject.strip_prefix("tid.feed.v1.")?.split_once('.')
}

/// Where a feed record its app's webhook never took is parked, with the reason.
pub fn dead_letter_feed(app: &AppId) -> String {
    format!("tid.dlq.feed.{app}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_subjects_follow_the_architecture() {
        let app = AppId::parse("demo").unwrap();
        let s = event(&app, aggregate::CONV, "d~alice~bob");
        assert_eq!(s, "tid.evt.demo.conv.d~alice~bob");
        assert_eq!(event_app(&s), Some("demo"));
        assert_eq!(event_app("tid.push.demo.alice"), None);
        let alice = UserId::parse("alice").unwrap();
        let changed = user_changed(&app, &alice);
        assert_eq!(parse_user_changed(&changed), Some(("demo", "alice")));
        let ended = access_ended(&app, &alice);
        assert_eq!(ended, "tid.ctl.demo.user.alice");
        assert_eq!(parse_access_ended(&ended), Some(("demo", "alice")));
        assert_eq!(
            parse_inbound("tid.in.demo.messages.send"),
            Some(("demo", "messages.send"))
        );
    }
}
