//! One client connection, independent of the WebSocket library: frames come in through a
//! `Stream` and go out through a `Sink`, so tests can drive it with channels.
//!
//! Catch-up and live delivery never gap or repeat: the user's push subscription is confirmed
//! before the store is read, every entry goes out only if its `seq` is `last_sent + 1`, and a
//! jump (or a lagging channel) is filled from the store first.

use crate::broadcasts::{BroadcastFeed, BroadcastHub};
use crate::coverage::Coverage;
use crate::errors::store_error;
use crate::frames::{self, ClientFrame, Encoded, Format, ServerFrame};
use crate::hub::{Hub, Push, Subscription};
use crate::paging::{MAX_PAGE, check_limit};
use crate::presence::{self, Presence, Seat, UserPresence};
use crate::sessions::{ACCESS_ENDED, Ended, REPLACED, Registration, Sessions};
use crate::typing::{self, Throttle, TypingState};
use crate::{quotes, service_view};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tidings_api::commands::{Commands, EditRequest, SendRequest};
use tidings_api::error::{ApiError, ErrorCode};
use tidings_api::tokens::Principal;
use tidings_domain::conv::Actor;
use tidings_domain::login::Platform;
use tidings_domain::pair::PairCommand;
use tidings_domain::{ConvId, DeviceId, MessageId, UserId};
use tidings_events::control::AccessEnded;
use tidings_runtime::metrics as metrics_names;
use tidings_store::visibility;
use tidings_store::{BroadcastRow, Entry, ReadModels};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

#[cfg(test)]
mod tests;

/// Most live entries written to a connection before one flush.
const MAX_PUSHES_PER_FLUSH: usize = 64;

/// What arrives from the socket.
#[derive(Debug)]
pub enum Incoming {
    Text(String),
    Binary(Vec<u8>),
    /// Ping, pong: proof of life, nothing to answer at this level.
    Control,
    /// The frame exceeded the size limit.
    TooLarge,
    Closed,
}

/// What goes to the socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    Frame(Encoded),
    Close { code: u16, reason: String },
}

/// Per-connection limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub idle_timeout: Duration,
    pub frames_per_sec: NonZeroU32,
    pub burst: NonZeroU32,
}

/// What every session shares.
pub struct Shared<S> {
    pub presence: Presence,
    pub store: S,
    pub commands: Commands,
    pub hub: Hub,
    pub sessions: Sessions,
    pub broadcasts: BroadcastHub,
    pub coverage: Arc<Coverage<S>>,
    pub limits: Limits,
    pub shutdown: CancellationToken,
}

struct Live {
    subscription: Subscription,
    last_sent: u64,
    device: DeviceId,
    /// This session's presence key, purged when the session ends.
    _seat: Seat,
    /// Broadcasts, for a session whose `hello` asked for them (`broadcasts_since`).
    broadcasts: Option<BroadcastFeed>,
}

struct Session<S, O> {
    shared: Arc<Shared<S>>,
    principal: Principal,
    registration: Registration,
    format: Format,
    out: O,
    live: Option<Live>,
    limiter: DefaultDirectRateLimiter,
    /// The presence changes of the users this session watches.
    watched: Option<tokio::sync::mpsc::Receiver<UserPresence>>,
    /// The rate limit of this session's typing notices.
    throttle: Throttle,
}

/// Counts an open session while it lives.
struct OpenSession;

impl OpenSession {
    fn count() -> Self {
        metrics::gauge!(metrics_names::CONNECTIONS).increment(1.0);
        OpenSession
    }
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        metrics::gauge!(metrics_names::CONNECTIONS).decrement(1.0);
    }
}

/// Why a session ended early.
#[derive(Debug)]
struct SocketGone;

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Registers a session of `principal` for access notices, then checks its access on the user's
/// subject again: a change that lands between the check at the upgrade and the registration is
/// seen here, and one after it ends the registered session. Refused, it answers the close to
/// send: `4401` when access ended, `1011` when NATS could not tell.
pub async fn admit<S>(shared: &Shared<S>, principal: &Principal) -> Result<Registration, Outgoing> {
    let registration = shared.sessions.register(principal);
    let access = shared
        .commands
        .access(&principal.app, &principal.user)
        .await
        .and_then(|access| access.admit(principal.epoch));
    match access {
        Ok(()) => Ok(registration),
        Err(refused) => Err(Outgoing::Close {
            code: match refused.code {
                ErrorCode::Unauthorized => ACCESS_ENDED,
                _ => 1011,
            },
            reason: refused.message,
        }),
    }
}

/// Runs an admitted connection until the client leaves, idles out, its access ends, or the
/// server shuts down.
pub async fn run<S, I, O>(
    shared: Arc<Shared<S>>,
    principal: Principal,
    registration: Registration,
    format: Format,
    mut incoming: I,
    out: O,
) where
    S: ReadModels,
    I: Stream<Item = Incoming> + Unpin,
    O: Sink<Outgoing> + Unpin,
{
    let limits = shared.limits.clone();
    let shutdown = shared.shutdown.clone();
    let _open = OpenSession::count();
    let mut session = Session {
        limiter: RateLimiter::direct(
            Quota::per_second(limits.frames_per_sec).allow_burst(limits.burst),
        ),
        shared,
        principal,
        registration,
        format,
        out,
        live: None,
        watched: None,
        throttle: Throttle::default(),
    };
    let idle = tokio::time::sleep(limits.idle_timeout);
    tokio::pin!(idle);
    let result: Result<(), SocketGone> = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break session.close(1001, "server shutting down").await,
            Ok(ended) = &mut session.registration.ended => {
                metrics::counter!(metrics_names::ACCESS_CLOSES).increment(1);
                break Box::pin(session.end(ended)).await;
            }
            _ = &mut idle => break session.close(1000, "idle timeout").await,
            frame = incoming.next() => {
                idle.as_mut().reset(tokio::time::Instant::now() + limits.idle_timeout);
                let step = match frame {
                    None | Some(Incoming::Closed) => break Ok(()),
                    Some(Incoming::Control) => Ok(()),
                    Some(Incoming::TooLarge) => break session.close(1009, "frame too large").await,
                    // Boxed, like the push below: the state of answering a frame (a command's
                    // round trip, a store read) lives only while it runs, so an idle
                    // connection's task stays a few hundred bytes instead of kilobytes.
                    Some(Incoming::Text(text)) => Box::pin(session.on_frame(frames::decode_text(&text))).await,
                    Some(Incoming::Binary(bytes)) => Box::pin(session.on_frame(frames::decode_binary(&bytes))).await,
                };
                if step.is_err() { break Err(SocketGone); }
            }
            Some(presence) = next_presence(&mut session.watched) => {
                let frame = ServerFrame::Presence {
                    user: presence.user,
                    online: presence.online,
                    last_seen: presence.last_seen,
                };
                // Boxed: a frame and its encoding in the task's own state would grow every idle
                // connection by their size (~600 bytes).
                if Box::pin(session.answer(frame)).await.is_err() { break Err(SocketGone); }
            }
            live = next_live(&mut session.live) => {
                let step = match live {
                    FromLive::Push(pushed) => Box::pin(session.on_push(pushed)).await,
                    FromLive::Broadcast(pushed) => Box::pin(session.on_broadcast(pushed)).await,
                };
                if step.is_err() { break Err(SocketGone); }
            }
        }
    };
    if result.is_err() {
        tracing::debug!(user = %session.principal.user, "connection lost");
    }
}

async fn next_presence(
    watched: &mut Option<tokio::sync::mpsc::Receiver<UserPresence>>,
) -> Option<UserPresence> {
    match watched {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// The next live broadcast, for a session that asked for them.
async fn next_broadcast(
    broadcasts: &mut Option<BroadcastFeed>,
) -> Result<Arc<BroadcastRow>, RecvError> {
    match broadcasts {
        Some(feed) => feed.next().await,
        None => std::future::pending().await,
    }
}

/// What the user's live subscriptions delivered.
enum FromLive {
    Push(Result<Arc<Push>, RecvError>),
    Broadcast(Result<Arc<BroadcastRow>, RecvError>),
}

/// The next push (an entry or a typing notice) or broadcast; a lagging receiver is reported
/// (the store fills the gap).
async fn next_live(live: &mut Option<Live>) -> FromLive {
    let Some(live) = live else {
        return std::future::pending().await;
    };
    tokio::select! {
        pushed = live.subscription.receiver.recv() => FromLive::Push(pushed),
        broadcast = next_broadcast(&mut live.broadcasts) => FromLive::Broadcast(broadcast),
    }
}

impl<S: ReadModels, O: Sink<Outgoing> + Unpin> Session<S, O> {
    async fn emit(&mut self, frame: &ServerFrame) -> Result<(), SocketGone> {
        let encoded = self.format.encode(frame);
        self.out
            .feed(Outgoing::Frame(encoded))
            .await
            .map_err(|_| SocketGone)
    }

    async fn flush(&mut self) -> Result<(), SocketGone> {
        self.out.flush().await.map_err(|_| SocketGone)
    }

    async fn answer(&mut self, frame: ServerFrame) -> Result<(), SocketGone> {
        self.emit(&frame).await?;
        self.flush().await
    }

    async fn close(&mut self, code: u16, reason: &str) -> Result<(), SocketGone> {
        self.out
            .send(Outgoing::Close {
                code,
                reason: reason.to_owned(),
            })
            .await
            .map_err(|_| SocketGone)
    }

    /// Closes a session whose access ended; a replaced one is told why first.
    async fn end(&mut self, ended: Ended) -> Result<(), SocketGone> {
        let reason = ended.reason();
        if ended.code() == REPLACED {
            let kicked = ServerFrame::Kicked {
                reason: reason.to_owned(),
            };
            self.emit(&kicked).await?;
        }
        self.close(ended.code(), reason).await
    }

    async fn on_frame(
        &mut self,
        frame: Result<ClientFrame, frames::BadFrame>,
    ) -> Result<(), SocketGone> {
        let frame = match frame {
            Ok(frame) => frame,
            Err(bad) => {
                tracing::info!(user = %self.principal.user, code = ?bad.error.code, message = %bad.error.message, "bad frame");
                return self.answer(ServerFrame::error(bad.id, bad.error)).await;
            }
        };
        if !matches!(frame, ClientFrame::Ping) && self.limiter.check().is_err() {
            metrics::counter!(metrics_names::RATE_LIMITED, "scope" => "frames").increment(1);
            let error = ApiError::new(ErrorCode::RateLimited, "too many frames, slow down");
            return self.answer(ServerFrame::error(frame.id(), error)).await;
        }
        match frame {
            ClientFrame::Ping => self.answer(ServerFrame::Pong).await,
            ClientFrame::Hello {
                since,
                device,
                platform,
                min_pos,
                broadcasts_since,
            } => {
                // Boxed, once per connection: a hello's catch-up is larger than a send.
                let hello = self.on_hello(since, device, platform, min_pos, broadcasts_since);
                Box::pin(hello).await
            }
            _ if self.live.is_none() => {
                let id = match &frame {
                    ClientFrame::Send { id, .. } | ClientFrame::Sync { id, .. } => id.clone(),
                    _ => None,
                };
                let error =
                    ApiError::new(ErrorCode::InvalidRequest, "hello must be the first frame");
                self.answer(ServerFrame::error(id, error)).await
            }
            ClientFrame::Send {
                id,
                to,
                client_msg_id,
                body,
                mentions,
                mention_all,
                reply_to,
                forward_of,
            } => {
                let request = SendRequest {
                    to,
                    client_msg_id,
                    body,
                    mentions,
                    mention_all,
                    reply_to,
                    forward_of,
                };
                let answer = match self
                    .shared
                    .commands
                    .send_from_client(&self.principal.app, &self.principal.user, request)
                    .await
                {
                    Ok(sent) => ServerFrame::Sent { id, sent },
                    Err(error) => ServerFrame::error(id, error),
                };
                self.answer_with_pushes(answer).await
            }
            ClientFrame::Sync {
                id,
                after,
                limit,
                min_pos,
            } => {
                let answer = match self.page(after, limit, min_pos).await {
                    Ok((entries, last_seq)) => ServerFrame::Page {
                        id,
                        entries,
                        last_seq,
                    },
                    Err(error) => ServerFrame::error(id, error),
                };
                self.answer(answer).await
            }
            ClientFrame::Typing { conv, state } => self.on_typing(conv, state).await,
            ClientFrame::Read { conv, conv_seq } => {
                let (app, me) = (&self.principal.app, &self.principal.user);
                let device = self.live.as_ref().map(|live| &live.device);
                match self
                    .shared
                    .commands
                    .read(app, me, &conv, conv_seq, device)
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(error) => self.answer(ServerFrame::error(None, error)).await,
                }
            }
            ClientFrame::Ack { seq } => {
                let live = self.live.as_ref().expect("checked above");
                let (app, user) = (&self.principal.app, &self.principal.user);
                if let Err(e) = self
                    .shared
                    .store
                    .ack_device(app, user, live.device.as_str(), seq)
                    .await
                {
                    let error = store_error(e);
                    return self.answer(ServerFrame::error(None, error)).await;
                }
                Ok(())
            }
            // Boxed: the other commands' states are larger than a send's, and every frame's
            // future would otherwise be as large as the largest (and copied whole into its box).
            command => Box::pin(self.on_command(command)).await,
        }
    }

    /// Answers the commands `on_frame` does not answer itself.
    async fn on_command(&mut self, frame: ClientFrame) -> Result<(), SocketGone> {
        match frame {
            ClientFrame::PresenceSubscribe { id, users } => self.watch_presence(id, users).await,
            ClientFrame::FriendRequest { id, to, note } => {
                self.relate(id, to, PairCommand::Request { note }).await
            }
            ClientFrame::FriendAccept { id, user } => {
                self.relate(id, user, PairCommand::Accept).await
            }
            ClientFrame::FriendReject { id, user } => {
                self.relate(id, user, PairCommand::Reject).await
            }
            ClientFrame::FriendCancel { id, user } => {
                self.relate(id, user, PairCommand::Cancel).await
            }
            ClientFrame::FriendRemove { id, user } => {
                self.relate(id, user, PairCommand::Remove).await
            }
            ClientFrame::Block { id, user } => self.relate(id, user, PairCommand::Block).await,
            ClientFrame::Unblock { id, user } => self.relate(id, user, PairCommand::Unblock).await,
            ClientFrame::Hide { id, conv, conv_seq } => {
                let (app, me) = (&self.principal.app, &self.principal.user);
                let answer = match self.shared.commands.hide(app, me, &conv, conv_seq).await {
                    Ok(pos) => ServerFrame::Hidden {
                        id,
                        conv,
                        conv_seq,
                        pos,
                    },
                    Err(error) => self.refused("hide", id, error),
                };
                self.answer(answer).await
            }
            ClientFrame::Clear { id, conv, up_to } => {
                let (app, me) = (&self.principal.app, &self.principal.user);
                let answer = match self.shared.commands.clear(app, me, &conv, up_to).await {
                    Ok(mark) => ServerFrame::Cleared {
                        id,
                        conv,
                        up_to: mark.value,
                        pos: mark.pos,
                    },
                    Err(error) => self.refused("clear", id, error),
                };
                self.answer(answer).await
            }
            ClientFrame::Settings { id, conv, request } => {
                let (app, me) = (&self.principal.app, &self.principal.user);
                let changed = self
                    .shared
                    .commands
                    .change_settings(app, me, &conv, request);
                let answer = match changed.await {
                    Ok(settings) => ServerFrame::SettingsSet {
                        id,
                        conv,
                        settings: settings.value,
                        pos: settings.pos,
                    },
                    Err(error) => self.refused("settings", id, error),
                };
                self.answer(answer).await
            }
            ClientFrame::Group { id, group, op } => {
                let (app, me) = (&self.principal.app, &self.principal.user);
                let answer = match self.shared.commands.group(app, me, &group, op.into()).await {
                    Ok(group) => ServerFrame::Group {
                        id,
                        group: group.value,
                        pos: group.pos,
                    },
                    Err(error) => ServerFrame::error(id, error),
                };
                self.answer(answer).await
            }
            ClientFrame::React {
                id,
                conv,
                msg_id,
                key,
            } => self.react(id, conv, msg_id, key, true).await,
            ClientFrame::Unreact {
                id,
                conv,
                msg_id,
                key,
            } => self.react(id, conv, msg_id, key, false).await,
            ClientFrame::Pin { id, conv, msg_id } => self.pin(id, conv, msg_id, true).await,
            ClientFrame::Unpin { id, conv, msg_id } => self.pin(id, conv, msg_id, false).await,
            ClientFrame::Recall { id, conv, msg_id } => {
                let (app, me) = (&self.principal.app, &self.principal.user);
                let by = Actor::User(me.clone());
                let answer = match self.shared.commands.recall(app, by, &conv, &msg_id).await {
                    Ok(recalled) => ServerFrame::Recalled { id, recalled },
                    Err(error) => ServerFrame::error(id, error),
                };
                self.answer(answer).await
            }
            ClientFrame::Edit {
                id,
                conv,
                msg_id,
                body,
                expected_edit_seq,
            } => {
                let (app, me) = (&self.principal.app, &self.principal.user);
                let request = EditRequest {
                    body,
                    expected_edit_seq,
                };
                let edited = self
                    .shared
                    .commands
                    .edit(app, me, &conv, &msg_id, request)
                    .await;
                let answer = match edited {
                    Ok(edited) => ServerFrame::Edited { id, edited },
                    Err(error) => ServerFrame::error(id, error),
                };
                self.answer(answer).await
            }
            // `on_frame` answers these itself and never passes them here.
            ClientFrame::Ping
            | ClientFrame::Hello { .. }
            | ClientFrame::Send { .. }
            | ClientFrame::Sync { .. }
            | ClientFrame::Typing { .. }
            | ClientFrame::Read { .. }
            | ClientFrame::Ack { .. } => Ok(()),
        }
    }

    /// Relays a typing notice to the conversation's other members online now, at most one per
    /// conversation per `typing::MIN_INTERVAL` (more are dropped, counted).
    async fn on_typing(&mut self, conv: ConvId, state: TypingState) -> Result<(), SocketGone> {
        if !self.throttle.allow(&conv, tokio::time::Instant::now()) {
            metrics::counter!(metrics_names::RATE_LIMITED, "scope" => "typing").increment(1);
            return Ok(());
        }
        let (app, me) = (&self.principal.app, &self.principal.user);
        let in_large_groups = self
            .shared
            .commands
            .apps()
            .presence_policy(app)
            .typing_in_large_groups;
        let recipients = typing::recipients(&self.shared.store, app, me, &conv, in_large_groups);
        let relayed = match recipients.await {
            Ok(recipients) => {
                let notice = typing::Typing {
                    conv,
                    user: me.clone(),
                    state,
                };
                typing::relay(self.shared.hub.client(), app, &notice, &recipients).await
            }
            Err(error) => Err(error),
        };
        match relayed {
            Ok(()) => Ok(()),
            Err(error) => {
                let frame = self.refused("typing", None, error);
                self.answer(frame).await
            }
        }
    }

    /// Replaces the watched users with `users`: their presence frames follow.
    async fn watch_presence(
        &mut self,
        id: Option<String>,
        users: Vec<UserId>,
    ) -> Result<(), SocketGone> {
        let policy = self
            .shared
            .commands
            .apps()
            .presence_policy(&self.principal.app);
        let users = if users.is_empty() && policy.friends_by_default {
            match presence::friends(&self.shared.store, &self.principal, policy.max_watched).await {
                Ok(friends) => friends,
                Err(error) => {
                    return self
                        .answer(self.refused("presence_subscribe", id, error))
                        .await;
                }
            }
        } else {
            let users = presence::distinct(users);
            if let Err(error) = presence::check_watch_list(&users, policy.max_watched) {
                return self
                    .answer(self.refused("presence_subscribe", id, error))
                    .await;
            }
            users
        };
        self.watched = None;
        if users.is_empty() {
            return Ok(());
        }
        match self.shared.presence.watch(&self.principal.app, users).await {
            Ok(receiver) => {
                self.watched = Some(receiver);
                Ok(())
            }
            Err(e) => {
                let error = ApiError::unavailable("watching presence", e);
                self.answer(self.refused("presence_subscribe", id, error))
                    .await
            }
        }
    }

    async fn relate(
        &mut self,
        id: Option<String>,
        other: UserId,
        command: PairCommand,
    ) -> Result<(), SocketGone> {
        let (app, me) = (&self.principal.app, &self.principal.user);
        let answer = match self.shared.commands.relate(app, me, &other, command).await {
            Ok(relation) => ServerFrame::Relation {
                id,
                relation: relation.value,
                pos: relation.pos,
            },
            Err(error) => ServerFrame::error(id, error),
        };
        self.answer(answer).await
    }

    /// The error frame of a refused command, logged.
    fn refused(&self, frame: &str, id: Option<String>, error: ApiError) -> ServerFrame {
        tracing::info!(user = %self.principal.user, frame, code = ?error.code, message = %error.message, "frame refused");
        ServerFrame::error(id, error)
    }

    async fn react(
        &mut self,
        id: Option<String>,
        conv: ConvId,
        msg_id: MessageId,
        key: String,
        add: bool,
    ) -> Result<(), SocketGone> {
        let (app, me) = (&self.principal.app, &self.principal.user);
        let commands = &self.shared.commands;
        let answer = match commands.react(app, me, &conv, &msg_id, key, add).await {
            Ok(reacted) => ServerFrame::Reacted {
                id,
                reacted: reacted.value,
                pos: reacted.pos,
            },
            Err(error) => ServerFrame::error(id, error),
        };
        self.answer(answer).await
    }

    async fn pin(
        &mut self,
        id: Option<String>,
        conv: ConvId,
        msg_id: MessageId,
        pin: bool,
    ) -> Result<(), SocketGone> {
        let (app, me) = (&self.principal.app, &self.principal.user);
        let by = Actor::User(me.clone());
        let answer = match self.shared.commands.pin(app, by, &conv, &msg_id, pin).await {
            Ok(state) => ServerFrame::PinSet {
                id,
                pin: state.value,
                pos: state.pos,
            },
            Err(error) => ServerFrame::error(id, error),
        };
        self.answer(answer).await
    }

    async fn page(
        &self,
        after: u64,
        limit: Option<usize>,
        min_pos: u64,
    ) -> Result<(Vec<Entry>, u64), ApiError> {
        let limit = check_limit(limit, 100)?;
        self.shared.coverage.wait_for(min_pos).await?;
        let (app, user) = (&self.principal.app, &self.principal.user);
        let store = &self.shared.store;
        let mut entries = visibility::inbox_page(store, app, user, after, limit)
            .await
            .map_err(store_error)?;
        quotes::resolve(store, app, quotes::in_entries(&mut entries)).await?;
        service_view::mask(quotes::in_entries(&mut entries), user);
        let last_seq = store.inbox_last_seq(app, user).await.map_err(store_error)?;
        Ok((entries, last_seq))
    }

    async fn on_hello(
        &mut self,
        since: u64,
        device: Option<String>,
        platform: Platform,
        min_pos: u64,
        broadcasts_since: Option<u64>,
    ) -> Result<(), SocketGone> {
        if self.live.is_some() {
            let error = ApiError::new(ErrorCode::InvalidRequest, "hello was already received");
            return self.answer(ServerFrame::error(None, error)).await;
        }
        let device_id = match DeviceId::parse(device.unwrap_or_else(|| "default".into())) {
            Ok(device) => device,
            Err(invalid) => {
                return self.answer(ServerFrame::error(None, invalid.into())).await;
            }
        };
        let device = device_id.to_string();
        if let Err(error) = self.shared.coverage.wait_for(min_pos).await {
            return self.answer(ServerFrame::error(None, error)).await;
        }
        // Named before the device is checked: a sign-out recorded after the check still
        // reaches this session through its notice.
        self.registration.name_device(&device, platform);
        let (app, user) = (self.principal.app.clone(), self.principal.user.clone());
        let issued_ms = self.principal.issued_ms;
        let admitted = self
            .shared
            .commands
            .hello_device(&app, &user, &device_id, platform, issued_ms)
            .await;
        match admitted {
            Ok(()) => {}
            Err(refused) if refused.code == ErrorCode::Unauthorized => {
                tracing::info!(%app, %user, %device, "hello refused: {}", refused.message);
                self.close(ACCESS_ENDED, &refused.message).await?;
                return Err(SocketGone);
            }
            Err(error) => return self.answer(ServerFrame::error(None, error)).await,
        }
        let policy = self.shared.commands.apps().settings(&app).login_policy;
        if let Some(platform) = policy.replaces(platform) {
            let replaced = AccessEnded::Replaced {
                keep: self.registration.session().to_owned(),
                device: device.clone(),
                platform,
            };
            self.shared.commands.announce(&app, &user, replaced).await;
        }
        // Subscribe before reading the store, so nothing written meanwhile is missed.
        let subscription = match self.shared.hub.subscribe(&app, &user).await {
            Ok(s) => s,
            Err(e) => {
                let error = ApiError::unavailable("subscribing to live entries", e);
                return self.answer(ServerFrame::error(None, error)).await;
            }
        };
        // Broadcast frames go only to sessions that ask for them: a client that does not
        // know them never receives one.
        let broadcasts = match broadcasts_since {
            None => None,
            Some(since) => match self.open_broadcasts(since).await {
                Ok(feed) => Some(feed),
                Err(error) => return self.answer(ServerFrame::error(None, error)).await,
            },
        };
        let last_seq = match self.shared.store.inbox_last_seq(&app, &user).await {
            Ok(seq) => seq,
            Err(e) => return self.answer(ServerFrame::error(None, store_error(e))).await,
        };
        let seat = match self.shared.presence.enter(&app, &user, &device).await {
            Ok(seat) => seat,
            Err(e) => {
                let error = ApiError::unavailable("recording presence", e);
                return self.answer(ServerFrame::error(None, error)).await;
            }
        };
        self.emit(&ServerFrame::Welcome {
            user_id: user,
            last_seq,
            server_time: now_millis(),
        })
        .await?;
        self.live = Some(Live {
            subscription,
            last_sent: since,
            device: device_id,
            _seat: seat,
            broadcasts,
        });
        self.fill_from_store(None).await?;
        self.fill_broadcasts().await?;
        let seq = self.live.as_ref().map_or(since, |l| l.last_sent);
        let bseq = self
            .live
            .as_ref()
            .and_then(|l| l.broadcasts.as_ref())
            .map(BroadcastFeed::cursor);
        self.answer(ServerFrame::Synced { seq, bseq }).await
    }

    /// Subscribes to the app's broadcasts (before reading the store), then opens the
    /// session's feed after `since`.
    async fn open_broadcasts(&self, since: u64) -> Result<BroadcastFeed, ApiError> {
        let (app, user) = (&self.principal.app, &self.principal.user);
        let subscription = self
            .shared
            .broadcasts
            .subscribe(app)
            .await
            .map_err(|e| ApiError::unavailable("subscribing to broadcasts", e))?;
        BroadcastFeed::open(subscription, &self.shared.store, app, user, since)
            .await
            .map_err(store_error)
    }

    /// Sends every stored broadcast for this user after the session's broadcast cursor.
    async fn fill_broadcasts(&mut self) -> Result<(), SocketGone> {
        loop {
            let Some(live) = self.live.as_mut().and_then(|l| l.broadcasts.as_mut()) else {
                return Ok(());
            };
            let store = &self.shared.store;
            let page = live.page(store, &self.principal.app, None).await;
            match page {
                Ok(Some(rows)) => {
                    for row in rows {
                        self.emit(&ServerFrame::Broadcast(row)).await?;
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => return self.answer(ServerFrame::error(None, store_error(e))).await,
            }
        }
    }

    /// Sends a live broadcast if this user sees it, after any the session missed.
    async fn on_broadcast(
        &mut self,
        pushed: Result<Arc<BroadcastRow>, RecvError>,
    ) -> Result<(), SocketGone> {
        let row = match pushed {
            Ok(row) => row,
            Err(RecvError::Lagged(_)) => {
                metrics::counter!(metrics_names::PUSH_LAGGED).increment(1);
                self.fill_broadcasts().await?;
                return self.flush().await;
            }
            Err(RecvError::Closed) => return self.close(1011, "live delivery ended").await,
        };
        let Some(feed) = self.live.as_mut().and_then(|l| l.broadcasts.as_mut()) else {
            return Ok(());
        };
        let (app, user) = (&self.principal.app, &self.principal.user);
        match feed.live(&self.shared.store, app, user, &row).await {
            Ok(rows) => {
                for row in rows {
                    self.emit(&ServerFrame::Broadcast(row)).await?;
                }
                self.flush().await
            }
            Err(e) => self.answer(ServerFrame::error(None, store_error(e))).await,
        }
    }

    /// Sends stored entries after `last_sent`, up to `until` (everything when `None`).
    async fn fill_from_store(&mut self, until: Option<u64>) -> Result<(), SocketGone> {
        loop {
            let after = self.live.as_ref().map_or(0, |l| l.last_sent);
            if until.is_some_and(|u| after >= u) {
                return Ok(());
            }
            let want = until.map_or(MAX_PAGE, |u| ((u - after) as usize).min(MAX_PAGE));
            let (app, user) = (&self.principal.app, &self.principal.user);
            // Entries of messages the user removed come as `removed` placeholders.
            let store = &self.shared.store;
            let page = match visibility::inbox_page(store, app, user, after, want).await {
                Ok(page) => page,
                Err(e) => {
                    let error = store_error(e);
                    return self.answer(ServerFrame::error(None, error)).await;
                }
            };
            if page.is_empty() {
                return Ok(());
            }
            for entry in page {
                self.deliver(entry).await?;
            }
        }
    }

    /// Sends one entry if it is the next one; older ones are skipped.
    async fn deliver(&mut self, mut entry: Entry) -> Result<(), SocketGone> {
        let Some(live) = self.live.as_mut() else {
            return Ok(());
        };
        if entry.seq != live.last_sent + 1 {
            return Ok(());
        }
        live.last_sent = entry.seq;
        let app = &self.principal.app;
        let views = quotes::in_entries(std::slice::from_mut(&mut entry));
        if let Err(error) = quotes::resolve(&self.shared.store, app, views).await {
            // The entry still goes out, without its quote: the history read has it.
            tracing::warn!(seq = entry.seq, %error, "resolving a reply's quote");
        }
        let viewer = &self.principal.user;
        service_view::mask(quotes::in_entries(std::slice::from_mut(&mut entry)), viewer);
        let ts = entry.ts;
        self.emit(&ServerFrame::Entry(entry)).await?;
        metrics::histogram!(metrics_names::WS_PUSH_SECONDS)
            .record(now_millis().saturating_sub(ts).max(0) as f64 / 1000.0);
        Ok(())
    }

    /// Writes a pushed entry or typing notice, and every other push already waiting (up to a
    /// bound), then flushes once: under load a connection gets one write per burst, not one
    /// per entry.
    async fn on_push(&mut self, pushed: Result<Arc<Push>, RecvError>) -> Result<(), SocketGone> {
        if self.write_pushes(Some(pushed)).await? {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends a command's answer with the pushes that arrived while it was decided (a sender's
    /// own earlier messages, mostly), in one write.
    async fn answer_with_pushes(&mut self, frame: ServerFrame) -> Result<(), SocketGone> {
        self.emit(&frame).await?;
        let waiting = self
            .live
            .as_ref()
            .is_some_and(|live| !live.subscription.receiver.is_empty());
        // Boxed: a send's future should not carry a push's state (a gap's store read) too.
        if waiting && !Box::pin(self.write_pushes(None)).await? {
            return Ok(());
        }
        self.flush().await
    }

    /// Writes `first`, then every push already waiting, up to `MAX_PUSHES_PER_FLUSH` in all,
    /// without flushing. False when live delivery ended and the connection was closed.
    async fn write_pushes(
        &mut self,
        first: Option<Result<Arc<Push>, RecvError>>,
    ) -> Result<bool, SocketGone> {
        let mut next = first;
        for _ in 0..MAX_PUSHES_PER_FLUSH {
            let pushed = match next.take() {
                Some(pushed) => pushed,
                None => {
                    let Some(live) = self.live.as_mut() else {
                        break;
                    };
                    match live.subscription.receiver.try_recv() {
                        Ok(push) => Ok(push),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Lagged(skipped)) => Err(RecvError::Lagged(skipped)),
                        Err(TryRecvError::Closed) => Err(RecvError::Closed),
                    }
                }
            };
            match pushed.as_deref() {
                Ok(Push::Entry(entry)) => {
                    let last_sent = self.live.as_ref().map_or(0, |l| l.last_sent);
                    if entry.seq > last_sent + 1 {
                        self.fill_from_store(Some(entry.seq - 1)).await?;
                    }
                    self.deliver(entry.clone()).await?;
                }
                Ok(Push::Typing(notice)) => {
                    self.emit(&ServerFrame::Typing {
                        conv: notice.conv.clone(),
                        user: notice.user.clone(),
                        state: notice.state,
                        expires_in: typing::EXPIRES_IN_SECS,
                    })
                    .await?;
                }
                Err(&RecvError::Lagged(skipped)) => {
                    metrics::counter!(metrics_names::PUSH_LAGGED).increment(1);
                    tracing::debug!(
                        skipped,
                        "connection lagged behind its live pushes; filling from the store"
                    );
                    self.fill_from_store(None).await?;
                }
                Err(&RecvError::Closed) => {
                    self.close(1011, "live delivery ended").await?;
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}
