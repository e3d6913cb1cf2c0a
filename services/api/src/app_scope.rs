//! Which events a consumer that works for some apps only reads (the feed projector, the push
//! worker). While some app asks for its work, the consumer's own filter, its wide scope (which
//! includes the apps' events); while none does, only the apps' own events (`tid.evt.*.app.*`),
//! so that it notices the first app that starts asking, and the nats-server delivers (and the
//! process reads and passes over) nothing else: in a deployment that does not use the feed or
//! offline push, no message is delivered to them.
//!
//! A change of scope happens at a point of the stream: the consumer is made again, with the
//! other filter, from the event after the app event that changed it (`position`). An app that
//! starts asking therefore has the consumer's work from its next event on, whichever scope the
//! consumer was in. An app event costs a read of that app (`after_event_of`); every app is
//! listed at start, and when one stops asking while the consumer reads the wide scope.

use crate::apps::Apps;
use anyhow::Context as _;
use async_nats::jetstream::consumer::{self, PullConsumer, pull};
use async_nats::jetstream::stream::Stream as JsStream;
use tidings_domain::AppId;
use tidings_domain::app::AppState;
use tidings_events::{definitions, subjects};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The consumer's own filter: some app asks.
    Wide,
    /// The apps' own events only: no app asks.
    Apps,
}

/// A consumer's two scopes, what makes an app ask for the wide one, and which one the consumer
/// reads.
pub struct AppScope {
    /// The consumer's definition, with the wide scope's filter.
    wide: pull::Config,
    /// Whether an app, as it is now, asks for the consumer's work.
    asks: fn(&AppState) -> bool,
    /// What the consumer reads.
    reads: Scope,
    /// Whether `reads` is what the apps called for when last listed: not while a consumer
    /// reading app events only goes through those left from before its start though some app
    /// asks now (the first of them moves it).
    settled: bool,
}

impl AppScope {
    /// Opens the durable consumer `wide` defines, in the scope the apps call for now (see
    /// `place`). `wide`'s filter must include the apps' events (`tid.evt.*.app.*`), or the
    /// consumer would not notice the last app that stops asking; `asks` says whether an app,
    /// as it is now, asks for the consumer's work.
    pub async fn open(
        wide: pull::Config,
        asks: fn(&AppState) -> bool,
        stream: &JsStream,
        apps: &Apps,
        checkpoint: Option<u64>,
    ) -> anyhow::Result<(Self, PullConsumer)> {
        // `place` sets what the consumer reads.
        let mut scope = Self {
            wide,
            asks,
            reads: Scope::Apps,
            settled: false,
        };
        let consumer = scope.place(stream, apps, checkpoint).await?;
        Ok((scope, consumer))
    }

    /// What the consumer reads.
    pub fn reads(&self) -> Scope {
        self.reads
    }

    /// The filter subjects `scope` reads.
    fn filters(&self, scope: Scope) -> Vec<String> {
        match scope {
            Scope::Wide => filters_of(&self.wide.filter_subject, &self.wide.filter_subjects),
            Scope::Apps => vec![subjects::ALL_APPS.to_owned()],
        }
    }

    /// The scope an existing consumer of this name reads, if it is one of the two.
    fn of(&self, info: &consumer::Info) -> Option<Scope> {
        let mut reads = filters_of(&info.config.filter_subject, &info.config.filter_subjects);
        reads.sort();
        [Scope::Wide, Scope::Apps].into_iter().find(|scope| {
            let mut filters = self.filters(*scope);
            filters.sort();
            filters == reads
        })
    }

    /// The scope the apps as they are now call for.
    async fn wanted(&self, apps: &Apps) -> anyhow::Result<Scope> {
        let asking = apps
            .list()
            .await
            .map_err(|e| anyhow::anyhow!("listing apps: {}", e.message))?
            .iter()
            .any(|(_, state, _)| (self.asks)(state));
        Ok(if asking { Scope::Wide } else { Scope::Apps })
    }

    /// After the consumer read an event of `app`: the scope it must move to (`position`, from
    /// the event after), if any. An event changes only its own app, so that app's state
    /// decides, and every app is listed only when it stops asking while the consumer reads
    /// the wide scope (or the scope is not settled).
    pub async fn after_event_of(
        &mut self,
        apps: &Apps,
        app: &AppId,
    ) -> anyhow::Result<Option<Scope>> {
        let wanted = if self.settled {
            let state = apps
                .current(app)
                .await
                .map_err(|e| anyhow::anyhow!("reading app {app}: {}", e.message))?;
            match (
                state.is_some_and(|(state, _)| (self.asks)(&state)),
                self.reads,
            ) {
                (true, _) => Scope::Wide,
                (false, Scope::Apps) => Scope::Apps,
                (false, Scope::Wide) => self.wanted(apps).await?,
            }
        } else {
            self.wanted(apps).await?
        };
        self.settled = wanted == self.reads;
        Ok((wanted != self.reads).then_some(wanted))
    }

    /// Makes the consumer afresh, reading `scope` from the stream sequence after `after` (from
    /// the stream's first event when 0).
    pub async fn position(
        &mut self,
        stream: &JsStream,
        scope: Scope,
        after: u64,
    ) -> anyhow::Result<PullConsumer> {
        let mut config = self.wide.clone();
        let name = config.durable_name.clone().unwrap_or_default();
        match self.filters(scope).as_slice() {
            [one] => {
                config.filter_subject = one.clone();
                config.filter_subjects = Vec::new();
            }
            many => {
                config.filter_subject = String::new();
                config.filter_subjects = many.to_vec();
            }
        }
        tracing::info!(
            consumer = name,
            ?scope,
            after,
            "a consumer reads a new scope"
        );
        let consumer = definitions::place_consumer(stream, config, after)
            .await
            .with_context(|| format!("placing consumer {name}"))?;
        (self.reads, self.settled) = (scope, true);
        Ok(consumer)
    }

    /// Places the consumer in the scope the apps call for now, from `checkpoint` when the
    /// caller keeps one (the store is its truth) and otherwise from where the consumer stands.
    /// One that reads the scope called for is kept (placed at the checkpoint). One reading the
    /// apps' events only while some app now asks goes on reading them if any is left to read
    /// (their first moves it, in order), and otherwise reads the wide scope from the stream's
    /// end (an app configured to ask since the last start, with no event of its own). One
    /// reading the wide scope while no app asks goes on reading apps only (it had no work
    /// in between). A new one reads the scope called for from the checkpoint, or the stream's
    /// first event.
    async fn place(
        &mut self,
        stream: &JsStream,
        apps: &Apps,
        checkpoint: Option<u64>,
    ) -> anyhow::Result<PullConsumer> {
        let wanted = self.wanted(apps).await?;
        let name = self.wide.durable_name.clone().unwrap_or_default();
        let Ok(existing) = stream.get_consumer::<pull::Config>(&name).await else {
            return self.position(stream, wanted, checkpoint.unwrap_or(0)).await;
        };
        let info = existing.cached_info();
        let start = checkpoint.unwrap_or(info.ack_floor.stream_sequence);
        match (self.of(info), wanted) {
            (Some(Scope::Apps), Scope::Wide) => {
                let apps_only = self.position(stream, Scope::Apps, start).await?;
                if apps_only.cached_info().num_pending > 0 {
                    self.settled = false;
                    return Ok(apps_only);
                }
                let last = stream
                    .get_info()
                    .await
                    .context("reading the events stream")?
                    .state
                    .last_sequence;
                self.position(stream, Scope::Wide, last).await
            }
            (Some(scope), wanted) if scope == wanted && checkpoint.is_none() => {
                (self.reads, self.settled) = (scope, true);
                Ok(existing)
            }
            (_, wanted) => self.position(stream, wanted, start).await,
        }
    }
}

/// The filter subjects a consumer's configuration names, one or many.
fn filters_of(one: &str, many: &[String]) -> Vec<String> {
    if one.is_empty() {
        many.to_vec()
    } else {
        vec![one.to_owned()]
    }
}
