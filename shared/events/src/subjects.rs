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
}

/// The subject of one aggregate instance: `tid.evt.<app>.<aggregate>.<id>`.
pub fn event(app: &AppId, aggregate: &str, id: &str) -> String {
    format!("tid.evt.{app}.{aggregate}.{id}")
}

/// Live deliveries to one user: `tid.push.<app>.<user>` (core NATS, not stored).
pub fn push(app: &AppId, user: &UserId) -> String {
    format!("tid.push.{app}.{user}")
}

/// Integrator requests: `tid.in.<app>.<command>`.
pub fn inbound(app: &AppId, command: &str) -> String {
    format!("tid.in.{app}.{command}")
}

/// Every integrator request subject.
pub const ALL_INBOUND: &str = "tid.in.>";

/// Where an event no projector can read is parked, with the reason in a header.
pub fn dead_letter_event(projection: &str) -> String {
    format!("tid.dlq.evt.{projection}")
}

/// Where an integrator request that could not be accepted is parked.
pub fn dead_letter_inbound(app: &str) -> String {
    format!("tid.dlq.in.{app}")
}

/// The parts of an event subject: (app, aggregate kind, aggregate id).
pub fn parse_event(subject: &str) -> Option<(&str, &str, &str)> {
    let rest = subject.strip_prefix("tid.evt.")?;
    let mut parts = rest.splitn(3, '.');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

/// The parts of an inbound subject: (app, command).
pub fn parse_inbound(subject: &str) -> Option<(&str, &str)> {
    let rest = subject.strip_prefix("tid.in.")?;
    rest.split_once('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_subjects_round_trip() {
        let app = AppId::parse("demo").unwrap();
        let s = event(&app, aggregate::CONV, "d~alice~bob");
        assert_eq!(s, "tid.evt.demo.conv.d~alice~bob");
        assert_eq!(parse_event(&s), Some(("demo", "conv", "d~alice~bob")));
        assert_eq!(parse_inbound("tid.in.demo.send"), Some(("demo", "send")));
    }
}
