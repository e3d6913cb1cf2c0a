//! User tags: labels the app server puts on users (on the `user` aggregate), naming the
//! audiences of broadcasts.

use crate::event::{Event, UserTagsChanged};
use crate::user::UserState;
use crate::{AppId, DomainError, Tag, UserId};

/// Most tags one user holds.
pub const MAX_TAGS_PER_USER: usize = 100;

/// Add `add` to a user's tags and remove `remove`; a tag named in both is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct SetTags {
    pub app: AppId,
    pub user: UserId,
    pub add: Vec<Tag>,
    pub remove: Vec<Tag>,
    pub ts: i64,
}

/// The change `cmd` makes: only tags not held are added, only held ones removed.
pub(crate) fn decide_tags(state: &UserState, cmd: &SetTags) -> Result<Vec<Event>, DomainError> {
    if !state.is_registered() {
        return Err(DomainError::NotFound(format!("user {}", cmd.user)));
    }
    if let Some(both) = cmd.add.iter().find(|t| cmd.remove.contains(t)) {
        return Err(DomainError::Invalid(format!(
            "tag {both} is both added and removed"
        )));
    }
    let mut added: Vec<Tag> = Vec::new();
    for tag in &cmd.add {
        if !state.tags.contains(tag) && !added.contains(tag) {
            added.push(tag.clone());
        }
    }
    let mut removed: Vec<Tag> = Vec::new();
    for tag in &cmd.remove {
        if state.tags.contains(tag) && !removed.contains(tag) {
            removed.push(tag.clone());
        }
    }
    if state.tags.len() + added.len() - removed.len() > MAX_TAGS_PER_USER {
        return Err(DomainError::Invalid(format!(
            "a user holds at most {MAX_TAGS_PER_USER} tags"
        )));
    }
    if added.is_empty() && removed.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![Event::UserTagsChanged(UserTagsChanged {
        app: cmd.app.clone(),
        user: cmd.user.clone(),
        added,
        removed,
        ts: cmd.ts,
    })])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Aggregate;
    use crate::user::{UpsertUser, UserCommand};

    fn tags(names: &[&str]) -> Vec<Tag> {
        names.iter().map(|n| Tag::parse(*n).unwrap()).collect()
    }

    fn set(add: &[&str], remove: &[&str]) -> UserCommand {
        UserCommand::SetTags(SetTags {
            app: AppId::parse("app").unwrap(),
            user: UserId::parse("alice").unwrap(),
            add: tags(add),
            remove: tags(remove),
            ts: 1,
        })
    }

    fn registered() -> UserState {
        let mut state = UserState::default();
        let upsert = UserCommand::Upsert(UpsertUser {
            app: AppId::parse("app").unwrap(),
            user: UserId::parse("alice").unwrap(),
            name: "Alice".into(),
            avatar_url: None,
            extra: None,
            ts: 1,
        });
        for e in state.decide(&upsert).unwrap() {
            state.apply(&e);
        }
        state
    }

    #[test]
    fn only_real_changes_are_recorded() {
        assert!(matches!(
            UserState::default().decide(&set(&["vip"], &[])),
            Err(DomainError::NotFound(_))
        ));
        let mut state = registered();
        let events = state
            .decide(&set(&["vip", "vip", "beta"], &["gone"]))
            .unwrap();
        assert!(matches!(&events[..], [Event::UserTagsChanged(t)]
            if t.added == tags(&["vip", "beta"]) && t.removed.is_empty()));
        events.iter().for_each(|e| state.apply(e));
        assert!(state.decide(&set(&["vip"], &[])).unwrap().is_empty());
        let events = state.decide(&set(&[], &["beta"])).unwrap();
        events.iter().for_each(|e| state.apply(e));
        assert_eq!(
            state.tags.iter().cloned().collect::<Vec<_>>(),
            tags(&["vip"])
        );
        assert!(state.decide(&set(&["x"], &["x"])).is_err());
    }

    #[test]
    fn a_user_holds_at_most_the_limit() {
        let mut state = registered();
        let many: Vec<String> = (0..MAX_TAGS_PER_USER).map(|i| format!("t{i}")).collect();
        let names: Vec<&str> = many.iter().map(String::as_str).collect();
        for e in state.decide(&set(&names, &[])).unwrap() {
            state.apply(&e);
        }
        assert!(state.decide(&set(&["one-more"], &[])).is_err());
        assert!(state.decide(&set(&["one-more"], &["t0"])).unwrap().len() == 1);
    }
}
