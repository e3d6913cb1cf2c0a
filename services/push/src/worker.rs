//! The push worker: a durable pull consumer on the message subjects of the events stream,
//! positioned from the worker's checkpoint in the store (as the projector is). Each step
//! gathers what arrives within the collapse window, waits until the projection covers it (so
//! inbox, unread counts and settings include it), plans jobs per recipient, collapses bursts,
//! delivers them, then records the checkpoint and acknowledges: a worker killed before that
//! sees the same messages again after its restart, so no job is lost (a job may be sent twice).
//! While no app has a push provider, the consumer reads the apps' own events only
//! (`tidings_api::app_scope`), and moves to the messages from the app event that gives the
//! first app one.

use crate::Config;
use crate::job::{PushJob, collapse};
use crate::online::Online;
use crate::plan::{self, Recipient};
use crate::provider::{AppPush, Providers};
use anyhow::Context as _;
use async_nats::jetstream::stream::Stream as JsStream;
use async_nats::jetstream::{self, consumer::PullConsumer, consumer::pull};
use futures_util::StreamExt;
use std::time::Duration;
use tidings_api::app_scope::AppScope;
use tidings_api::apps::Apps;
use tidings_api::apps_memo::AppsMemo;
use tidings_domain::app::AppState;
use tidings_domain::event::MessageSent;
use tidings_domain::{AppId, Event, Recipient as To, UserId};
use tidings_events::definitions::push_consumer;
use tidings_events::{Envelope, subjects};
use tidings_runtime::metrics as names;
use tidings_store::ReadModels;

/// The worker's checkpoint key in the store.
pub const CHECKPOINT: &str = "push";
/// Group members read per page when finding a group message's recipients.
const MEMBER_PAGE: usize = 1_000;
/// How often the worker looks whether the projection caught up.
const PROJECTION_POLL: Duration = Duration::from_millis(20);

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Handled this many messages, producing this many jobs.
    Handled { messages: usize, jobs: usize },
    /// Nothing arrived within the wait.
    Idle,
}

/// Whether `app` has a push provider, so that its messages are followed.
fn pushes(app: &AppState) -> bool {
    app.settings.push.has_provider()
}

/// Whether a notification of a message on `subject` shows its text, if the message's app has
/// a push provider; `None` if it has none (or is unknown).
async fn preview(apps: &mut AppsMemo<'_>, subject: &str) -> anyhow::Result<Option<bool>> {
    let Some(app) = subjects::event_app(subject).and_then(|a| AppId::parse(a).ok()) else {
        return Ok(None);
    };
    let state = apps
        .state(&app)
        .await
        .map_err(|e| anyhow::anyhow!("reading app {app}: {}", e.message))?;
    Ok(state.filter(|s| pushes(s)).map(|s| s.settings.push.preview))
}

/// Counts and logs a job that is given up on because its app could not be read.
fn drop_job(job: &PushJob, why: String) {
    tracing::warn!(app = %job.app, user = %job.user, "{why}");
    metrics::counter!(names::PUSH_FAILED, "provider" => job.provider.as_str(), "reason" => "app")
        .increment(1);
}

/// The worker over one store.
pub struct Worker<S> {
    store: S,
    apps: Apps,
    online: Online,
    providers: Providers,
    /// The events stream, where the consumer is made again when its scope changes.
    stream: JsStream,
    /// What the consumer reads.
    scope: AppScope,
    messages: pull::Stream,
    /// The projection's checkpoint keys: an event is projected once all of them cover it.
    projections: Vec<String>,
    checkpoint: u64,
    config: Config,
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The consumer's messages, in batches of at most `max_batch`.
async fn messages(consumer: &PullConsumer, max_batch: usize) -> anyhow::Result<pull::Stream> {
    consumer
        .stream()
        .max_messages_per_batch(max_batch)
        .heartbeat(Duration::from_secs(5))
        .messages()
        .await
        .context("reading the push worker's consumer")
}

impl<S: ReadModels> Worker<S> {
    /// Recreates the durable consumer at the store's checkpoint + 1 (the store is the truth,
    /// never the ack floor), in the scope the apps call for, and opens its message stream.
    pub async fn start(
        store: S,
        client: async_nats::Client,
        apps: Apps,
        projections: Vec<String>,
        config: Config,
    ) -> anyhow::Result<Self> {
        let js = jetstream::new(client);
        let stream = js
            .get_stream(subjects::EVENTS_STREAM)
            .await
            .context("opening the events stream")?;
        let checkpoint = store.checkpoint(CHECKPOINT).await?;
        // Messages and app events while some app has a push provider, else app events.
        let (scope, consumer) =
            AppScope::open(push_consumer(), pushes, &stream, &apps, Some(checkpoint)).await?;
        let messages = messages(&consumer, config.max_batch).await?;
        tracing::info!(checkpoint, scope = ?scope.reads(), "push worker started");
        Ok(Self {
            store,
            apps,
            online: Online::new(js),
            providers: Providers::new()?,
            stream,
            scope,
            messages,
            projections,
            checkpoint,
            config,
        })
    }

    /// Waits up to `wait` for a message, gathers what else arrives within the collapse window,
    /// and handles the batch.
    pub async fn step(&mut self, wait: Duration) -> anyhow::Result<Step> {
        let first = match tokio::time::timeout(wait, self.messages.next()).await {
            Err(_) => return Ok(Step::Idle),
            Ok(None) => anyhow::bail!("consumer stream ended"),
            Ok(Some(message)) => message.map_err(|e| anyhow::anyhow!("consumer: {e}"))?,
        };
        let mut batch = vec![first];
        let window = tokio::time::Instant::now() + Duration::from_millis(self.config.collapse_ms);
        while batch.len() < self.config.max_batch {
            match tokio::time::timeout_at(window, self.messages.next()).await {
                Err(_) => break,
                Ok(None) => anyhow::bail!("consumer stream ended"),
                Ok(Some(message)) => {
                    batch.push(message.map_err(|e| anyhow::anyhow!("consumer: {e}"))?)
                }
            }
        }
        self.handle(batch).await
    }

    async fn handle(&mut self, batch: Vec<jetstream::Message>) -> anyhow::Result<Step> {
        let mut jobs = Vec::new();
        let mut through = self.checkpoint;
        let mut handled = 0;
        let mut rescope = None;
        // Each app read once per batch, and again after an app's event; a message of an app
        // without a provider (most apps, and every app that does not use offline push) is
        // passed over undecoded.
        let mut apps = AppsMemo::new(&self.apps);
        for message in &batch {
            let seq = message
                .info()
                .map_err(|e| anyhow::anyhow!("message metadata: {e}"))?
                .stream_sequence;
            if seq <= through {
                continue; // Already handled before a restart.
            }
            through = seq;
            handled += 1;
            if let Some(app) =
                subjects::parse_app(&message.subject).and_then(|a| AppId::parse(a).ok())
            {
                apps = AppsMemo::new(&self.apps);
                if let Some(wanted) = self.scope.after_event_of(&self.apps, &app).await? {
                    rescope = Some(wanted);
                    break; // What follows comes again from the consumer in its new scope.
                }
                continue;
            }
            let Some(show_text) = preview(&mut apps, &message.subject).await? else {
                continue;
            };
            let envelope = match Envelope::decode(
                seq,
                &message.subject,
                message.headers.as_ref(),
                &message.payload,
            ) {
                Ok(envelope) => envelope,
                // The projector parks unreadable events; there is nothing to notify about.
                Err(error) => {
                    tracing::debug!(seq, %error, "unreadable event skipped by the push worker");
                    continue;
                }
            };
            if let Event::MessageSent(sent) = &envelope.event {
                if sent.ts < now_millis() - self.config.max_age_secs as i64 * 1000 {
                    continue; // Too old to be worth a notification (a long outage, a first start).
                }
                self.projected(seq).await?;
                jobs.extend(self.jobs_for(sent, show_text).await?);
            }
        }
        let jobs = collapse(jobs);
        let produced = jobs.len();
        metrics::counter!(names::PUSH_JOBS).increment(produced as u64);
        for job in &jobs {
            match apps.state(&job.app).await {
                Ok(Some(state)) => self.deliver(job, &AppPush::of(&job.app, state)).await,
                Ok(None) => drop_job(job, "push job dropped: the app is gone".into()),
                Err(error) => drop_job(job, format!("push job dropped: {}", error.message)),
            }
        }
        if through > self.checkpoint {
            self.store.apply(CHECKPOINT, through, Vec::new()).await?;
            self.checkpoint = through;
        }
        if let Some(wanted) = rescope {
            let consumer = self
                .scope
                .position(&self.stream, wanted, self.checkpoint)
                .await?;
            self.messages = messages(&consumer, self.config.max_batch).await?;
        } else if let Some(last) = batch.last() {
            // Acknowledge only after delivering: a crash before it redelivers the batch.
            last.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        }
        Ok(Step::Handled {
            messages: handled,
            jobs: produced,
        })
    }

    /// Waits until every partition of the projection covers stream sequence `seq`.
    async fn projected(&self, seq: u64) -> anyhow::Result<()> {
        loop {
            let mut behind = false;
            for projection in &self.projections {
                if self.store.checkpoint(projection).await? < seq {
                    behind = true;
                    break;
                }
            }
            if !behind {
                return Ok(());
            }
            tokio::time::sleep(PROJECTION_POLL).await;
        }
    }

    /// Everyone who receives `sent` but its sender.
    async fn recipients(&self, sent: &MessageSent) -> anyhow::Result<Vec<UserId>> {
        match &sent.to {
            To::User(user) => Ok(vec![user.clone()]),
            To::Group(group) => {
                let mut users = Vec::new();
                let mut after: Option<UserId> = None;
                loop {
                    let page = self
                        .store
                        .members(&sent.app, group, after.as_ref(), MEMBER_PAGE)
                        .await?;
                    let full = page.len() == MEMBER_PAGE;
                    after = page.last().map(|m| m.user.clone());
                    users.extend(page.into_iter().map(|m| m.user));
                    if !full {
                        break;
                    }
                }
                users.retain(|u| u != &sent.from);
                Ok(users)
            }
            // Messages to a service are recorded as `service_message_sent`, which the worker
            // does not follow yet (docs/protocol.md, Offline push).
            To::Service(_) => Ok(Vec::new()),
        }
    }

    async fn jobs_for(&self, sent: &MessageSent, show_text: bool) -> anyhow::Result<Vec<PushJob>> {
        let mut jobs = Vec::new();
        for user in self.recipients(sent).await? {
            let Some(row) = self.store.push_settings(&sent.app, &user).await? else {
                continue; // No device of theirs can be pushed to.
            };
            if row.settings.devices.is_empty() {
                continue;
            }
            let muted_until = self
                .store
                .conv_settings(&sent.app, &user)
                .await?
                .into_iter()
                .find(|r| r.conv == sent.conv)
                .and_then(|r| r.settings.muted_until);
            let online = self.online.devices(&sent.app, &user).await?;
            let badge = self
                .store
                .conversations(&sent.app, &user)
                .await?
                .iter()
                .map(|c| c.unread)
                .sum();
            let to = Recipient {
                user: &user,
                push: &row.settings,
                muted_until,
                online: &online,
                badge,
            };
            jobs.extend(plan::jobs(sent, &to, show_text, now_millis()));
        }
        Ok(jobs)
    }

    /// Delivers `job`, retrying what may succeed later; a job given up on is counted and
    /// logged, and does not hold up the ones after it.
    async fn deliver(&self, job: &PushJob, app: &AppPush) {
        let provider = job.provider.as_str();
        let mut backoff = Duration::from_millis(200);
        for attempt in 1..=self.config.attempts {
            match self.providers.send(job, app).await {
                Ok(()) => {
                    metrics::counter!(names::PUSH_SENT, "provider" => provider).increment(1);
                    return;
                }
                Err(error) if error.retryable() && attempt < self.config.attempts => {
                    tracing::debug!(%error, attempt, "push attempt failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 4;
                }
                Err(error) => {
                    let reason = if error.retryable() {
                        "unavailable"
                    } else {
                        "refused"
                    };
                    tracing::warn!(app = %job.app, user = %job.user, device = %job.device, %error, "push job failed");
                    metrics::counter!(names::PUSH_FAILED, "provider" => provider, "reason" => reason)
                        .increment(1);
                    return;
                }
            }
        }
    }
}
