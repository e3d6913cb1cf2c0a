//! Group rosters read from the stream, for partitioned projectors. A partition cannot load a
//! roster from the store's group rows: another partition writes them, at its own point of the
//! stream. Folding the group's own subject up to this partition's checkpoint gives the roster
//! exactly as the next event of this partition must see it.

use crate::directory::{Directory, group_of};
use crate::group_fold::project_group;
use anyhow::Context as _;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::stream::Stream as JsStream;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tidings_domain::event::MessageSent;
use tidings_domain::{ConvId, Event, Recipient};
use tidings_events::{Envelope, subjects};
use tidings_store::MessageView;

/// Longest a roster load may take before the batch fails (and the projector restarts).
const LOAD_LIMIT: Duration = Duration::from_secs(30);

/// Loads into `directory`, as of `checkpoint`, every group `envelopes` touch that it lacks.
pub async fn preload_from_stream(
    directory: &mut Directory,
    stream: &JsStream,
    checkpoint: u64,
    envelopes: &[Envelope],
    large_group: usize,
) -> anyhow::Result<()> {
    for (app, group) in envelopes.iter().filter_map(group_of) {
        if directory.get(&app, &group).is_some() {
            continue;
        }
        let subject = subjects::event(
            &app,
            subjects::aggregate::CONV,
            ConvId::group(&group).as_str(),
        );
        tokio::time::timeout(
            LOAD_LIMIT,
            fold_subject(directory, stream, &subject, checkpoint, large_group),
        )
        .await
        .with_context(|| format!("loading the roster of {subject} timed out"))??;
    }
    Ok(())
}

/// Folds the group events of `subject` with sequence <= `checkpoint`. The caller holds an event
/// of this subject past the checkpoint, so the subject is never empty and the loop ends.
async fn fold_subject(
    directory: &mut Directory,
    stream: &JsStream,
    subject: &str,
    checkpoint: u64,
    large_group: usize,
) -> anyhow::Result<()> {
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: subject.to_owned(),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .context("roster consumer")?;
    let mut messages = consumer.messages().await.context("roster consumer")?;
    // The group's last message up to the checkpoint, where a leaving member's row stops.
    let mut last: Option<MessageSent> = None;
    while let Some(message) = messages.next().await {
        let message = message.context("roster consumer")?;
        let info = message.info().map_err(|e| anyhow::anyhow!("{e}"))?;
        let (seq, pending) = (info.stream_sequence, info.pending);
        if seq > checkpoint {
            break;
        }
        // An unreadable event is dead-lettered by the main path; rosters skip it the same way.
        if let Ok(envelope) = Envelope::decode(
            seq,
            &message.subject,
            message.headers.as_ref(),
            &message.payload,
        ) {
            match envelope.event {
                Event::GroupChanged(change) => {
                    project_group(&change, seq, directory, large_group);
                }
                Event::MessageSent(sent) => last = Some(sent),
                _ => {}
            }
        }
        if pending == 0 {
            break;
        }
    }
    if let Some(sent) = last
        && let Recipient::Group(group) = sent.to.clone()
    {
        let app = sent.app.clone();
        if let Some(roster) = directory.get_mut(&app, &group) {
            roster.last = Some((sent.ts, Arc::new(MessageView::from(sent))));
        }
    }
    Ok(())
}
