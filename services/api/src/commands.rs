//! The command side: every write Tidings accepts goes through here, whatever door it came in
//! by (WebSocket, signed HTTP, NATS). It checks what needs other aggregates, then lets the
//! target aggregate decide.

mod annotate;
mod broadcast;
mod devices;
mod forward;

pub use annotate::{PinState, Reacted};
pub use broadcast::{Broadcast, BroadcastRequest, TagsRequest};
pub use forward::ForwardRequest;
mod lifecycle;
mod push;
mod screen;
mod service;
mod settings;

pub use service::{AgentView, ServiceView, SessionView};

pub use lifecycle::{EditRequest, Edited, Recalled};
pub use push::{DoNotDisturbRequest, PushRequest};
pub use settings::SettingsRequest;

use crate::aggregate::{Recorded, Repository};
use crate::apps::Apps;
use crate::error::{ApiError, ErrorCode};
use crate::files::Files;
use crate::snapshot;
use futures_util::FutureExt;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::Arc;
use tidings_domain::broadcast::BroadcastState;
use tidings_domain::conv::{ConvCommand, ConvState, Receipt, SendMessage};
use tidings_domain::group::{ChangeGroup, GroupCommand, GroupState, Role};
use tidings_domain::pair::{ChangePair, PairCommand, PairState};
use tidings_domain::reads::{ClearConversation, HideMessage, MarkRead, ReadState, ReadsCommand};
use tidings_domain::service::ServiceState;
use tidings_domain::settings::SettingsState;
use tidings_domain::system::{SendSystemMessage, SystemState};
use tidings_domain::user::{UpsertUser, UserCommand, UserState};
use tidings_domain::{
    AppId, Body, BodyLimits, ClientMsgId, ConvId, DeviceId, FileId, GroupId, MessageId, Recipient,
    UserId,
};
use tidings_events::control::AccessEnded;
use tidings_events::subjects;

/// Longest wait for NATS to take an access-ended notice.
const ANNOUNCE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Most recipients of one system message.
pub const MAX_SYSTEM_RECIPIENTS: usize = 1000;

/// A message to send, as clients and app servers give it.
#[derive(Debug, Clone, Deserialize)]
pub struct SendRequest {
    pub to: Recipient,
    pub client_msg_id: ClientMsgId,
    /// Required, except for a forward, which copies its original's body.
    #[serde(default)]
    pub body: Option<Body>,
    /// The message of the same conversation this one answers.
    #[serde(default)]
    pub reply_to: Option<MessageId>,
    /// A message to forward, from a conversation the sender can read.
    #[serde(default)]
    pub forward_of: Option<ForwardRequest>,
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
    /// The events stream's position of the conversation when answered (`min_pos` for reads).
    pub pos: u64,
}

impl Sent {
    fn of(r: Receipt, pos: u64) -> Self {
        Sent {
            msg_id: r.msg_id,
            conv: r.conv,
            conv_seq: r.conv_seq,
            ts: r.ts,
            pos,
        }
    }

    /// The answer over HTTP and NATS: the `sent` frame, `t` included.
    pub fn answer(&self) -> serde_json::Value {
        let mut answer = serde_json::json!(self);
        answer["t"] = "sent".into();
        answer
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

/// What a marker's decision needs of the conversation it names, read from its subject.
#[derive(Debug, Clone, Copy)]
struct Target {
    /// False for a group that was never created.
    exists: bool,
    /// Whether the user takes part in it now.
    member: bool,
    /// The newest `conv_seq`.
    last: u64,
}

fn not_a_participant() -> ApiError {
    ApiError::new(ErrorCode::Forbidden, "not a conversation of this user")
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

/// Whether a user's tokens are admitted, as the user's own subject says (not a cache or a read
/// model): a revocation or deactivation answered 200 holds for the next request anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The user's app is disabled (or no longer exists).
    pub app_disabled: bool,
    pub deactivated: bool,
    pub token_epoch: u64,
}

impl Access {
    /// Admits a token of `epoch`, or says why not (`unauthorized`).
    pub fn admit(&self, epoch: u64) -> Result<(), ApiError> {
        if self.app_disabled {
            Err(ApiError::new(ErrorCode::Unauthorized, "app is disabled"))
        } else if self.deactivated {
            Err(ApiError::new(
                ErrorCode::Unauthorized,
                "user is deactivated",
            ))
        } else if epoch < self.token_epoch {
            Err(ApiError::new(ErrorCode::Unauthorized, "token revoked"))
        } else {
            Ok(())
        }
    }
}

struct Inner {
    client: async_nats::Client,
    users: Repository<UserState>,
    convs: Repository<ConvState>,
    reads: Repository<ReadState>,
    settings: Repository<SettingsState>,
    system: Repository<SystemState>,
    services: Repository<ServiceState>,
    limits: BodyLimits,
    apps: Apps,
    files: Files,
    hooks: crate::hook::Hooks,
    words: crate::words::Words,
    rate_limits: crate::limits::Limits,
    broadcasts: Repository<BroadcastState>,
}

/// The command handler, cheap to clone.
#[derive(Clone)]
pub struct Commands(Arc<Inner>);

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs a command's work, counting it by `kind` and outcome and timing it.
///
/// A combinator, not an `async fn`: an async fn that awaits its future argument holds it
/// twice in its state (the argument and the awaited value), and a send's state is copied
/// whole at every level that awaits it.
fn observed<T>(
    kind: &'static str,
    work: impl Future<Output = Result<T, ApiError>>,
) -> impl Future<Output = Result<T, ApiError>> {
    let started = std::time::Instant::now();
    work.inspect(move |result| {
        let code = match result {
            Ok(_) => "ok",
            Err(error) => error.code.as_str(),
        };
        metrics::counter!(tidings_runtime::metrics::COMMANDS, "kind" => kind, "code" => code)
            .increment(1);
        metrics::histogram!(tidings_runtime::metrics::COMMAND_SECONDS, "kind" => kind)
            .record(started.elapsed().as_secs_f64());
    })
}

impl Commands {
    /// Commands over the events stream (which must exist: see `definitions::provision`).
    /// Provisions the snapshot bucket, replicated like the stream; conversations and read
    /// positions are snapshotted every `snapshot_every` events (0: never).
    pub async fn new(
        js: async_nats::jetstream::Context,
        cache_capacity: u64,
        snapshot_every: u64,
        limits: BodyLimits,
        apps: Apps,
    ) -> anyhow::Result<Self> {
        let stream = js.get_stream(subjects::EVENTS_STREAM).await?;
        let replicas = stream.cached_info().config.num_replicas;
        let snapshots = snapshot::provision(&js, replicas).await?;
        let files = Files::provision(&js, replicas, apps.clone()).await?;
        let words = crate::words::Words::open(&js, replicas).await?;
        let rate_limits = crate::limits::Limits::open(&js, replicas, apps.clone()).await?;
        let hooks = crate::hook::Hooks::new(js.client(), limits);
        Ok(Self(Arc::new(Inner {
            client: js.client(),
            users: Repository::new(js.clone(), stream.clone(), cache_capacity),
            convs: Repository::new(js.clone(), stream.clone(), cache_capacity)
                .with_snapshots(snapshots.clone(), snapshot_every),
            reads: Repository::new(js.clone(), stream.clone(), cache_capacity)
                .with_snapshots(snapshots.clone(), snapshot_every),
            settings: Repository::new(js.clone(), stream.clone(), cache_capacity)
                .with_snapshots(snapshots, snapshot_every),
            system: Repository::new(js.clone(), stream.clone(), 1),
            services: Repository::new(js.clone(), stream.clone(), cache_capacity),
            broadcasts: Repository::new(js, stream, 64),
            limits,
            apps,
            files,
            hooks,
            words,
            rate_limits,
        })))
    }

    /// The sensitive-word lists.
    pub fn words(&self) -> &crate::words::Words {
        &self.0.words
    }

    /// The per-user and per-app rate limits.
    pub fn rate_limits(&self) -> &crate::limits::Limits {
        &self.0.rate_limits
    }

    /// The uploaded files.
    pub fn files(&self) -> &Files {
        &self.0.files
    }

    /// Whether `user` takes part in `conv` now (a direct conversation's two users, a group's
    /// current members), decided on the conversation's subject like a send: a refusal is
    /// checked against the current state, not a cached one.
    pub async fn participant(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
    ) -> Result<bool, ApiError> {
        if conv.group_id().is_none() {
            return Ok(conv.is_direct_member(user));
        }
        let member = |state: &ConvState| state.group.role(user).is_some();
        let convs = &self.0.convs;
        if convs.read(app, conv.as_str(), false, member).await? {
            return Ok(true);
        }
        convs.read(app, conv.as_str(), true, member).await
    }

    /// Whether `user` may download `file` of `conv` now: `forbidden` unless they take part in
    /// the conversation, then `not_found` once every message naming the file is recalled.
    /// Always decided on a fresh read of the conversation's subject, so a recall answered by
    /// any api instance is honoured by the next download.
    pub async fn may_read_file(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
        file: &FileId,
    ) -> Result<(), ApiError> {
        let direct = conv.group_id().is_none() && conv.is_direct_member(user);
        let (member, readable) = self
            .0
            .convs
            .read(app, conv.as_str(), true, |state: &ConvState| {
                (
                    direct || state.group.role(user).is_some(),
                    state.file_readable(file),
                )
            })
            .await?;
        if !member {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "the file belongs to a conversation this user is not in",
            ));
        }
        if !readable {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("file {file} not found (every message naming it was recalled)"),
            ));
        }
        Ok(())
    }

    /// Registers or updates a user; returns the profile version.
    pub async fn upsert_user(
        &self,
        app: &AppId,
        request: UpsertUserRequest,
    ) -> Result<Recorded<u64>, ApiError> {
        observed("upsert_user", async {
            let user = request.user_id.clone();
            let command = UserCommand::Upsert(UpsertUser {
                app: app.clone(),
                user: request.user_id,
                name: request.name,
                avatar_url: request.avatar_url,
                extra: request.extra,
                ts: now_millis(),
            });
            self.0
                .users
                .execute_then(app, user.as_str(), &command, UserState::version)
                .await
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

    /// Fails with `not_found` unless `user`, someone other than the caller, exists and is
    /// active: a deactivated user cannot be messaged, befriended or added, as if gone.
    async fn require_reachable(&self, app: &AppId, user: &UserId) -> Result<(), ApiError> {
        match self.presence(app, user).await? {
            Presence::Active => Ok(()),
            Presence::Deactivated | Presence::Unknown => Err(ApiError::new(
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

    /// Whether `user`'s tokens are admitted, read from their subject and their app's (one
    /// round trip each, concurrently).
    pub async fn access(&self, app: &AppId, user: &UserId) -> Result<Access, ApiError> {
        let (app_state, user_state) = futures_util::join!(
            self.0.apps.current(app),
            self.0.users.read(app, user.as_str(), true, |state| {
                (state.deactivated, state.token_epoch)
            })
        );
        let (deactivated, token_epoch) = user_state?;
        Ok(Access {
            app_disabled: !matches!(app_state?, Some((state, _)) if !state.disabled),
            deactivated,
            token_epoch,
        })
    }

    /// The apps this handler serves.
    pub fn apps(&self) -> &Apps {
        &self.0.apps
    }

    /// Tells every gateway to close the sessions `ended` names. Best effort and bounded: a
    /// gateway that misses it still closes them on the projector's notice of the change.
    pub async fn announce(&self, app: &AppId, user: &UserId, ended: AccessEnded) {
        let client = &self.0.client;
        let subject = subjects::access_ended(app, user);
        let sent = async {
            client.publish(subject, ended.encode().into()).await?;
            client.flush().await?;
            Ok::<_, async_nats::Error>(())
        };
        match tokio::time::timeout(ANNOUNCE_TIMEOUT, sent).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%app, %user, %error, "announcing an access change"),
            Err(_) => tracing::warn!(%app, %user, "announcing an access change timed out"),
        }
    }

    /// Deactivates a user (idempotent) and ends their sessions; returns the position of the
    /// user's state.
    pub async fn deactivate(&self, app: &AppId, user: &UserId) -> Result<u64, ApiError> {
        observed("deactivate", async {
            let command = UserCommand::Deactivate {
                app: app.clone(),
                user: user.clone(),
                ts: now_millis(),
            };
            let pos = self.0.users.execute(app, user.as_str(), &command).await?;
            self.announce(app, user, AccessEnded::Deactivated).await;
            Ok(pos)
        })
        .await
    }

    /// Revokes every token of a user; returns the new epoch.
    pub async fn revoke_tokens(
        &self,
        app: &AppId,
        user: &UserId,
    ) -> Result<Recorded<u64>, ApiError> {
        observed("revoke_tokens", async {
            let command = UserCommand::RevokeTokens {
                app: app.clone(),
                user: user.clone(),
                ts: now_millis(),
            };
            let epoch = self
                .0
                .users
                .execute_then(app, user.as_str(), &command, |state| state.token_epoch)
                .await?;
            let ended = AccessEnded::TokensRevoked { epoch: epoch.value };
            self.announce(app, user, ended).await;
            Ok(epoch)
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
    ) -> Result<Recorded<GroupView>, ApiError> {
        observed("group", async {
            self.require_active(app, actor).await?;
            let newcomers: &[UserId] = match &command {
                GroupCommand::Create { members, .. }
                | GroupCommand::AddMembers { users: members } => members,
                GroupCommand::TransferOwner { to } => std::slice::from_ref(to),
                _ => &[],
            };
            for user in newcomers {
                self.require_reachable(app, user).await?;
            }
            let conv = ConvId::group(group);
            let command = ConvCommand::Group(ChangeGroup {
                app: app.clone(),
                group: group.clone(),
                actor: actor.clone(),
                command,
                member_cap: self.0.apps.max_group_members(app),
                ts: now_millis(),
            });
            self.0
                .convs
                .execute_then(app, conv.as_str(), &command, |state| {
                    GroupView::of(&state.group, group, actor)
                })
                .await
        })
        .await
    }

    /// Sends a system message to the active users among `to`; returns how many those are
    /// (with position 0 when none is).
    pub async fn send_system(
        &self,
        app: &AppId,
        to: Vec<UserId>,
        body: Body,
    ) -> Result<Recorded<usize>, ApiError> {
        observed("send_system", async {
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
                if !recipients.contains(&user)
                    && self.presence(app, &user).await? == Presence::Active
                {
                    recipients.push(user);
                }
            }
            if recipients.is_empty() {
                return Ok(Recorded { value: 0, pos: 0 });
            }
            let count = recipients.len();
            let msg_id = MessageId::parse(uuid::Uuid::now_v7().to_string())
                .expect("uuid text is a valid message id");
            let command = SendSystemMessage {
                app: app.clone(),
                msg_id: msg_id.clone(),
                to: recipients,
                body,
                ts: now_millis(),
            };
            let pos = self
                .0
                .system
                .execute(app, msg_id.as_str(), &command)
                .await?;
            Ok(Recorded { value: count, pos })
        })
        .await
    }

    /// Whether `user` takes part in `conv` now, and its newest `conv_seq`, as the
    /// conversation's subject says: its current state when `fresh`, else a cached one unless
    /// that would refuse (not a participant, or `conv_seq` past the newest).
    async fn marker_target(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
        conv_seq: u64,
        fresh: bool,
    ) -> Result<Target, ApiError> {
        if let Some((member, last)) = self.service_participant(app, user, conv).await? {
            return Ok(Target {
                exists: true,
                member,
                last,
            });
        }
        let view = |state: &ConvState| Target {
            exists: conv.group_id().is_none() || state.group.created,
            member: match conv.group_id() {
                Some(_) => state.group.role(user).is_some(),
                None => conv.is_direct_member(user),
            },
            last: state.last_conv_seq,
        };
        let convs = &self.0.convs;
        if !fresh {
            let seen = convs.read(app, conv.as_str(), false, view).await?;
            if seen.member && conv_seq <= seen.last {
                return Ok(seen);
            }
        }
        convs.read(app, conv.as_str(), true, view).await
    }

    /// Marks `conv` read by `user` up to `conv_seq` (a participant only; never backwards),
    /// from `device` when one is known (its per-device read position); returns the position
    /// of the user's read markers.
    pub async fn read(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
        conv_seq: u64,
        device: Option<&DeviceId>,
    ) -> Result<u64, ApiError> {
        observed("read", async {
            // Read markers are frequent: a cached state may admit them.
            let target = self.marker_target(app, user, conv, conv_seq, false).await?;
            if !target.member {
                return Err(not_a_participant());
            }
            let command = ReadsCommand::Read(MarkRead {
                app: app.clone(),
                user: user.clone(),
                conv: conv.clone(),
                conv_seq,
                last_conv_seq: target.last,
                device: device.cloned(),
                ts: now_millis(),
            });
            self.0.reads.execute(app, user.as_str(), &command).await
        })
        .await
    }

    /// The conversation a removal names, checked on its subject's current state: it exists
    /// and has messages (`not_found`), `user` takes part in it now (`forbidden`); the
    /// `conv_seq` itself is checked by the decision against the newest `conv_seq` this
    /// returns.
    async fn removal_target(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
    ) -> Result<u64, ApiError> {
        let target = self.marker_target(app, user, conv, 0, true).await?;
        if !target.exists {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("conversation {conv} not found"),
            ));
        }
        if !target.member {
            return Err(not_a_participant());
        }
        if target.last == 0 {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("conversation {conv} has no messages"),
            ));
        }
        Ok(target.last)
    }

    /// Hides message `conv_seq` of `conv` from `user`'s own view, on all their devices (a
    /// participant only; the message must exist; hiding it again is a no-op). Returns the
    /// position of the user's markers.
    pub async fn hide(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
        conv_seq: u64,
    ) -> Result<u64, ApiError> {
        observed("hide", async {
            let last = self.removal_target(app, user, conv).await?;
            let command = ReadsCommand::Hide(HideMessage {
                app: app.clone(),
                user: user.clone(),
                conv: conv.clone(),
                conv_seq,
                last_conv_seq: last,
                ts: now_millis(),
            });
            self.0.reads.execute(app, user.as_str(), &command).await
        })
        .await
    }

    /// Clears `conv` from `user`'s own view up to `up_to` (the newest message when `None`), on
    /// all their devices (a participant only; `up_to` must exist; a mark at or below the
    /// current one is a no-op). Answers the user's clear mark as it now is.
    pub async fn clear(
        &self,
        app: &AppId,
        user: &UserId,
        conv: &ConvId,
        up_to: Option<u64>,
    ) -> Result<Recorded<u64>, ApiError> {
        observed("clear", async {
            let last = self.removal_target(app, user, conv).await?;
            let command = ReadsCommand::Clear(ClearConversation {
                app: app.clone(),
                user: user.clone(),
                conv: conv.clone(),
                up_to: up_to.unwrap_or(last),
                last_conv_seq: last,
                ts: now_millis(),
            });
            self.0
                .reads
                .execute_then(app, user.as_str(), &command, |state| {
                    state.cleared_up_to(conv)
                })
                .await
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
    ) -> Result<Recorded<RelationView>, ApiError> {
        observed("relate", async {
            self.require_active(app, actor).await?;
            self.require_reachable(app, other).await?;
            let conv = ConvId::direct(actor, other);
            let command = ConvCommand::Pair(ChangePair {
                app: app.clone(),
                actor: actor.clone(),
                other: other.clone(),
                command,
                ts: now_millis(),
            });
            self.0
                .convs
                .execute_then(app, conv.as_str(), &command, |state| {
                    RelationView::of(&state.pair, actor, other)
                })
                .await
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
        observed("send", async {
            self.require_active(app, from).await?;
            match &request.to {
                Recipient::User(to) => self.require_reachable(app, to).await?,
                // Membership, mutes and dismissal are decided by the group's aggregate.
                Recipient::Group(_) => {}
                Recipient::Service(service) => {
                    let body = match (request.body, &request.forward_of, &request.reply_to) {
                        (Some(body), None, None) if request.mentions.is_empty() => body,
                        _ => {
                            return Err(ApiError::new(
                                ErrorCode::InvalidRequest,
                                "a message to a service has a body and no reply_to, forward_of or mentions",
                            ));
                        }
                    };
                    let cmid = request.client_msg_id;
                    let sent = self.service_send(app, service, from, from, cmid, body);
                    return Box::pin(sent).await;
                }
            }
            let conv = ConvId::between(from, &request.to);
            let (body, forward_of) = match (request.body, &request.forward_of) {
                (Some(body), None) => (body, None),
                (None, Some(origin)) => {
                    let (body, origin) = Box::pin(self.forwarded(app, from, origin)).await?;
                    (body, Some(origin))
                }
                (Some(_), Some(_)) => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidRequest,
                        "a forward copies its original's body: send no body with forward_of",
                    ));
                }
                (None, None) => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidRequest,
                        "missing field `body`",
                    ));
                }
            };
            if body.attachment().is_some() {
                body.validate(self.0.limits)
                    .map_err(|e| ApiError::from(tidings_domain::DomainError::from(e)))?;
                Box::pin(self.0.files.check_body(app, &conv, &body)).await?;
            }
            let reply_to = match &request.reply_to {
                Some(msg_id) => Some(Box::pin(self.facts(app, &conv, msg_id)).await?),
                None => None,
            };
            let draft = screen::Draft {
                from,
                to: &request.to,
                conv: &conv,
                client_msg_id: &request.client_msg_id,
                mentions: &request.mentions,
            };
            let body = self.screen(app, draft, body).await?;
            let client_msg_id = request.client_msg_id.clone();
            let command = ConvCommand::Send(SendMessage {
                app: app.clone(),
                from: from.clone(),
                to: request.to,
                client_msg_id: request.client_msg_id,
                body,
                mentions: request.mentions,
                mention_all: request.mention_all,
                reply_to,
                forward_of,
                msg_id: MessageId::parse(uuid::Uuid::now_v7().to_string())
                    .expect("uuid text is a valid message id"),
                ts: now_millis(),
                limits: self.0.limits,
                policy: self.0.apps.messaging(app),
            });
            // A new message and a retry within the idempotency horizon both leave the receipt in
            // the state: the answer is the same either way.
            let recorded = self
                .0
                .convs
                .execute_then(app, conv.as_str(), &command, |state| {
                    state.receipt(from, &client_msg_id)
                })
                .await?;
            recorded
                .value
                .map(|receipt| Sent::of(receipt, recorded.pos))
                .ok_or_else(|| {
                    tracing::error!(%conv, %from, "a recorded send has no receipt");
                    ApiError::new(ErrorCode::Internal, "the message's receipt is missing")
                })
        })
        .await
    }
}
