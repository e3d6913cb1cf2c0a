//! The ids and time the registry's samples are built from. A sample's encoding is its version's
//! golden file under `schemas/`, so changing one of these changes published files.

use tidings_domain::{AppId, GroupId, UserId};

/// Every sample's time: 2026-01-01T00:00:00Z in milliseconds.
pub(crate) const TS: i64 = 1_767_225_600_000;

pub(crate) fn app() -> AppId {
    AppId::parse("demo").expect("valid")
}

pub(crate) fn alice() -> UserId {
    UserId::parse("alice").expect("valid")
}

pub(crate) fn bob() -> UserId {
    UserId::parse("bob").expect("valid")
}

pub(crate) fn team() -> GroupId {
    GroupId::parse("team").expect("valid")
}
