//! Which events the feed projector's consumer reads. While some app asks for the feed, every
//! event (`tid.evt.>`); while none does, only the apps' own events (`tid.evt.*.app.*`), so that
//! it notices the first app that starts asking, and the nats-server delivers (and this process
//! reads and passes over) nothing else: a deployment without feed users pays nothing for the
//! feed per message.
//!
//! A change of scope happens at a point of the stream: the consumer is made again, with the
//! other filter, from the event after the app event that changed it. An app that turns the
//! feed on therefore has records from its next event on, whichever scope the projector was in.

use anyhow::Context as _;
use async_nats::jetstream::consumer::{PullConsumer, pull};
use async_nats::jetstream::stream::Stream as JsStream;
use tidings_api::apps::Apps;
use tidings_events::{definitions, subjects};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every event: some app asks for the feed.
    All,
    /// The apps' own events only: no app asks.
    Apps,
}

impl Scope {
    /// The consumer's filter subject.
    pub fn filter(self) -> &'static str {
        match self {
            Self::All => subjects::ALL_EVENTS,
            Self::Apps => subjects::ALL_APPS,
        }
    }

    /// The scope a consumer's filter subject reads, if it is one of the two.
    fn of(filter: &str) -> Option<Self> {
        [Self::All, Self::Apps]
            .into_iter()
            .find(|scope| filter == scope.filter())
    }

    /// The scope the apps as they are now call for.
    pub async fn wanted(apps: &Apps) -> anyhow::Result<Self> {
        let feeding = apps
            .list()
            .await
            .map_err(|e| anyhow::anyhow!("listing apps: {}", e.message))?
            .iter()
            .any(|(_, state, _)| !state.disabled && state.settings.feeds());
        Ok(if feeding { Self::All } else { Self::Apps })
    }
}

fn consumer_name() -> String {
    definitions::feed_projector_consumer()
        .durable_name
        .expect("a durable consumer")
}

/// Makes the consumer afresh, reading `scope` from the stream sequence after `after` (from the
/// stream's first event when 0).
pub async fn position(stream: &JsStream, scope: Scope, after: u64) -> anyhow::Result<PullConsumer> {
    let mut config = definitions::feed_projector_consumer();
    config.filter_subject = scope.filter().to_owned();
    tracing::info!(?scope, after, "feed projector reads a new scope");
    definitions::place_consumer(stream, config, after)
        .await
        .context("placing the feed projector's consumer")
}

/// Opens the consumer where it stands, in the scope the apps call for now: an existing one is
/// kept when it reads that scope; one reading every event while no app asks goes on from its
/// ack floor reading apps only (it would have published nothing in between); one reading apps
/// only is kept (its app events come in order, and the first of them moves it to every event
/// if some app asks by then), unless it has nothing pending, when it moves to every event from
/// the stream's end (an app configured to ask since the last start). A new one reads from the
/// stream's first event.
pub async fn open(stream: &JsStream, apps: &Apps) -> anyhow::Result<(PullConsumer, Scope)> {
    let wanted = Scope::wanted(apps).await?;
    let name = consumer_name();
    let Ok(existing) = stream.get_consumer::<pull::Config>(&name).await else {
        return Ok((position(stream, wanted, 0).await?, wanted));
    };
    let info = existing.cached_info();
    let (reads, pending, floor) = (
        Scope::of(&info.config.filter_subject),
        info.num_pending,
        info.ack_floor.stream_sequence,
    );
    match (reads, wanted) {
        (Some(scope), wanted) if scope == wanted => Ok((existing, scope)),
        (Some(Scope::Apps), Scope::All) if pending > 0 => Ok((existing, Scope::Apps)),
        (Some(Scope::Apps), Scope::All) => {
            let last = stream
                .get_info()
                .await
                .context("reading the events stream")?
                .state
                .last_sequence;
            Ok((position(stream, Scope::All, last).await?, Scope::All))
        }
        (_, wanted) => Ok((position(stream, wanted, floor).await?, wanted)),
    }
}
