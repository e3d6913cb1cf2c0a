//! The command side: every write Tidings accepts goes through here, whatever door it came in
//! by (WebSocket, signed HTTP, NATS). It checks what needs other aggregates, then lets the
//! target aggregate decide.

use crate::aggregate::{Repository, SystemMessage};
use crate::apps::Apps;
use crate::error::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tidings_domain::conv::{self, ConvState, Receipt, SendDecision, SendMessage};
use tidings_domain::event::SystemMessageSent;
use tidings_domain::group::{self, GroupCommand, GroupState, Role};
use tidings_domain::pair::{self, PairCommand, PairState};
use tidings_domain::reads::{self, ReadState};
use tidings_domain::user::{self, UpsertUser, UserState};
use tidings_domain::{
    AppId, Body, BodyLimits, ClientMsgId, ConvId, Event, GroupId, MessageId, Recipient, UserId,
};
use tidings_events::subjects;

/// Most recipients of one system message.
pub const MAX_SYSTEM_RECIPIENTS: usize = 1000;

/// A message to send, as clients and app servers give it.
#[derive(Debug, Clone, Deserialize)]
pub struct SendRequest {
    pub to: Recipient,
    pub client_msg_id: ClientMsgId,
    pub body: Body,
    /// Group members to mention.
    #[serde(default)]
    pub mentions: Vec<UserId>,
    /// Mention everyone (owner and admins only).
    #[serde(default)]
    pub mention_all: bool,
}

/// The answer to a send: the `sent` frame's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sent {
    pub msg_id: MessageId,
    pub conv: ConvId,
    pub conv_seq: u64,
    pub ts: i64,
}

impl From<Receipt> for Sent {
    fn from(r: Receipt) -> Self {
        Sent {
            msg_id: r.msg_id,
            conv: r.conv,
            conv_seq: r.conv_seq,
            ts: r.ts,
        }
    }
}

/// A profile upsert, as app servers give it.
#[derive(Debug, Clone, Deserialize)]
pub struct UpsertUserRequest {
    pub user_id: UserId,
    pub name: String,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub extra: Option<serde_json::Value>,
}

/// One user's view of a relationship, as answered after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelationView {
    pub user: UserId,
    pub friend: bool,
    /// `in` (they asked you) or `out` (you asked them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<&'static str>,
    /// Whether you block them.
    pub blocked: bool,
}

impl RelationView {
    fn of(state: &PairState, me: &UserId, other: &UserId) -> Self {
        RelationView {
            user: other.clone(),
            friend: state.friends,
            request: state
                .pending
                .as_ref()
                .map(|p| if &p.from == me { "out" } else { "in" }),
            blocked: state.blocks(me),
        }
    }
}

/// Whether a user can act and be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Active,
    Deactivated,
    Unknown,
}

/// A group as its member sees it after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupView {
    pub group_id: GroupId,
    pub conv: ConvId,
    pub name: String,
    pub member_count: usize,
    /// Your role; absent when you are not (or no longer) a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    pub dismissed: bool,
}

impl GroupView {
    fn of(state: &GroupState, group: &GroupId, me: &UserId) -> Self {
        GroupView {
            group_id: group.clone(),
            conv: ConvId::group(group),
            name: state.name.clone(),
            member_count: state.members.len(),
            role: state.role(me),
            dismissed: state.dismissed,
        }
    }
}

struct Inner {
    users: Repository<UserState>,
    convs: Repository<ConvState>,
    reads: Repository<ReadState>,
    system: Repository<SystemMessage>,
    limits: BodyLimits,
    apps: Apps,
}

/// The command handler, cheap to clone.
#[derive(Clone)]
pub struct Commands(Arc<Inner>);

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Commands {
    /// Commands over the events stream (which must exist: see `definitions::provision`).
    pub async fn new(
        js: async_nats::jetstream::Context,
        cache_capacity: u64,
        limits: BodyLimits,
        apps: Apps,
    ) -> anyhow::Result<Self> {
        let stream = js.get_stream(subjects::EVENTS_STREAM).await?;
        Ok(Self(Arc::new(Inner {
            users: Repository::new(js.clone(), stream.clone(), cache_capacity),
            convs: Repository::new(js.clone(), stream.clone(), cache_capacity),
            reads: Repository::new(js.clone(), stream.clone(), cache_capacity),
            system: Repository::new(js, stream, 1),
            limits,
            apps,
        })))
    }

    /// Registers or updates a user; returns the profile version.
    pub async fn upsert_user(
        &self,
        app: &AppId,
        request: UpsertUserRequest,
    ) -> Result<u64, ApiError> {
        let user = request.user_id.clone();
        self.0
            .users
            .execute(app, user.as_str(), |state| {
                let events = user::decide_upsert(
                    state,
                    UpsertUser {
                        app: app.clone(),
                        user: request.user_id.clone(),
                        name: request.name.clone(),
                        avatar_url: request.avatar_url.clone(),
                        extra: request.extra.clone(),
                        ts: now_millis(),
                    },
                )?;
                let version = match events.last() {
                    Some(Event::UserRegistered(p) | Event::UserProfileUpdated(p)) => p.version,
                    _ => state.version(),
                };
                Ok((events, version))
            })
            .await
    }

    async fn presence(&self, app: &AppId, user: &UserId) -> Result<Presence, ApiError> {
        let presence = |state: &UserState| match (state.is_registered(), state.deactivated) {
            (false, _) => Presence::Unknown,
            (true, false) => Presence::Active,
            (true, true) => Presence::Deactivated,
        };
        let users = &self.0.users;
        // A cached "active" may miss a deactivation made through another instance for a
        // moment; tokens of deactivated users are refused at the edge regardless.
        match users.read(app, user.as_str(), false, presence).await? {
            Presence::Active => Ok(Presence::Active),
            _ => users.read(app, user.as_str(), true, presence).await,
        }
    }

    /// Fails unless `user` exists and is not deactivated.
    pub async fn require_active(&self, app: &AppId, user: &UserId) -> Result<(), ApiError> {
        match self.presence(app, user).await? {
            Presence::Active => Ok(()),
            Presence::Deactivated => Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("user {user} is deactivated"),
            )),
            Presence::Unknown => Err(ApiError::new(
                ErrorCode::NotFound,
                format!("user {user} not found"),
            )),
        }
    }

    /// The token epoch to mint with, for an active user.
    pub async fn token_epoch(&self, app: &AppId, user: &UserId) -> Result<u64, ApiError> {
        self.require_active(app, user).await?;
        self.0
            .users
            .read(app, user.as_str(), false, |state| state.token_epoch)
            .await
    }

    /// Deactivates a user (idempotent).
    pub async fn deactivate(&self, app: &AppId, user: &UserId) -> Result<(), ApiError> {
        let ts = now_millis();
        self.0
            .users
            .execute(app, user.as_str(), |state| {
                Ok((user::decide_deactivate(state, app, user, ts)?, ()))
            })
            .await
    }

    /// Revokes every token of a user; returns the new epoch.
    pub async fn revoke_tokens(&self, app: &AppId, user: &UserId) -> Result<u64, ApiError> {
        let ts = now_millis();
        self.0
            .users
            .execute(app, user.as_str(), |state| {
                let events = user::decide_revoke_tokens(state, app, user, ts)?;
                Ok((events, state.token_epoch + 1))
            })
            .await
    }

    /// Runs a group command by `actor`; answers the group as `actor` now sees it.
    pub async fn group(
        &self,
        app: &AppId,
        actor: &UserId,
        group: &GroupId,
        command: GroupCommand,
    ) -> Result<GroupView, ApiError> {
        self.require_active(app, actor).await?;
        let newcomers: &[UserId] = match &command {
            GroupCommand::Create { members, .. } | GroupCommand::AddMembers { users: members } => {
                members
            }
            GroupCommand::TransferOwner { to } => std::slice::from_ref(to),
            _ => &[],
        };
        for user in newcomers {
            self.require_active(app, user).await?;
        }
        let conv = ConvId::group(group);
        let (cap, ts) = (self.0.apps.max_group_members(app), now_millis());
        self.0
            .convs
            .execute(app, conv.as_str(), |state| {
                let events =
                    group::decide(&state.group, app, group, actor, command.clone(), cap, ts)?;
                let mut after = state.group.clone();
                for event in &events {
                    if let Event::GroupChanged(change) = event {
                        after.evolve(change);
                    }
                }
                Ok((events, GroupView::of(&after, group, actor)))
            })
            .await
    }

    /// Sends a system message to the active users among `to`; returns how many those are.
    pub async fn send_system(
        &self,
        app: &AppId,
        to: Vec<UserId>,
        body: Body,
    ) -> Result<usize, ApiError> {
        if to.is_empty() || to.len() > MAX_SYSTEM_RECIPIENTS {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("to must list 1-{MAX_SYSTEM_RECIPIENTS} users"),
            ));
        }
        body.validate(self.0.limits)
            .map_err(|e| ApiError::from(tidings_domain::DomainError::from(e)))?;
        let mut recipients = Vec::with_capacity(to.len());
        for user in to {
            if !recipients.contains(&user) && self.presence(app, &user).await? == Presence::Active {
                recipients.push(user);
            }
        }
        if recipients.is_empty() {
            return Ok(0);
        }
        let count = recipients.len();
        let msg_id = MessageId::parse(uuid::Uuid::now_v7().to_string())
            .expect("uuid text is a valid message id");
        let event = Event::SystemMessageSent(SystemMessageSent {
            app: app.clone(),
            msg_id: msg_id.clone(),
            to: recipients,
            body,
            ts: now_millis(),
        });
        self.0
            .system
            .execute(app, msg_id.as_str(), |_| Ok((vec![event.clone()], count)))
            .await
    }

    /// Marks `conv` read by `user` up to `conv_seq` (a participant only; never backwards).
    pub async fn read(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
        conv_seq: u64,
    ) -> Result<(), ApiError> {
        let view = |state: &ConvState| {
            let member = match conv.group_id() {
                Some(_) => state.group.role(user).is_some(),
                None => conv.is_direct_member(user),
            };
            (member, state.last_conv_seq)
        };
        let convs = &self.0.convs;
        let mut seen = convs.read(app, conv.as_str(), false, view).await?;
        if !seen.0 || conv_seq > seen.1 {
            // Refuse only on the conversation's current state, not a cached one.
            seen = convs.read(app, conv.as_str(), true, view).await?;
        }
        let (member, last) = seen;
        if !member {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "not a conversation of this user",
            ));
        }
        let ts = now_millis();
        self.0
            .reads
            .execute(app, user.as_str(), |state| {
                Ok((
                    reads::decide_read(state, app, user, conv, conv_seq, last, ts)?,
                    (),
                ))
            })
            .await
    }

    /// Changes `actor`'s relationship with `other`; answers the relationship as it now is.
    pub async fn relate(
        &self,
        app: &AppId,
        actor: &UserId,
        other: &UserId,
        command: PairCommand,
    ) -> Result<RelationView, ApiError> {
        self.require_active(app, actor).await?;
        self.require_active(app, other).await?;
        let conv = ConvId::direct(actor, other);
        let ts = now_millis();
        self.0
            .convs
            .execute(app, conv.as_str(), |state| {
                let events = pair::decide(&state.pair, app, actor, other, command.clone(), ts)?;
                let mut after = state.pair.clone();
                for event in &events {
                    if let Event::PairChanged(change) = event {
                        after.evolve(change);
                    }
                }
                Ok((events, RelationView::of(&after, actor, other)))
            })
            .await
    }

    /// Sends a message from `from`; idempotent on (`from`, `client_msg_id`).
    pub async fn send(
        &self,
        app: &AppId,
        from: &UserId,
        request: SendRequest,
    ) -> Result<Sent, ApiError> {
        self.require_active(app, from).await?;
        match &request.to {
            Recipient::User(to) => {
                if self.presence(app, to).await? != Presence::Active {
                    return Err(ApiError::new(
                        ErrorCode::NotFound,
                        format!("user {to} not found"),
                    ));
                }
            }
            // Membership, mutes and dismissal are decided by the group's aggregate.
            Recipient::Group(_) => {}
        }
        let conv = ConvId::between(from, &request.to);
        let msg_id = MessageId::parse(uuid::Uuid::now_v7().to_string())
            .expect("uuid text is a valid message id");
        let ts = now_millis();
        let limits = self.0.limits;
        let policy = self.0.apps.messaging(app);
        self.0
            .convs
            .execute(app, conv.as_str(), |state| {
                let command = SendMessage {
                    app: app.clone(),
                    from: from.clone(),
                    to: request.to.clone(),
                    client_msg_id: request.client_msg_id.clone(),
                    body: request.body.clone(),
                    mentions: request.mentions.clone(),
                    mention_all: request.mention_all,
                    msg_id: msg_id.clone(),
                    ts,
                };
                Ok(match conv::decide_send(state, command, limits, policy)? {
                    SendDecision::Duplicate(receipt) => (Vec::new(), receipt.into()),
                    SendDecision::Record(message) => {
                        let sent = Sent {
                            msg_id: message.msg_id.clone(),
                            conv: message.conv.clone(),
                            conv_seq: message.conv_seq,
                            ts: message.ts,
                        };
                        (vec![Event::MessageSent(message)], sent)
                    }
                })
            })
            .await
    }
}
