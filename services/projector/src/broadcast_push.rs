//! Live broadcasts: once a batch holding broadcasts is committed, each is published once on its
//! app's broadcast subject, where every gateway with a session of the app listens (one
//! subscription per app per gateway, not one per user).

use tidings_domain::AppId;
use tidings_events::subjects;
use tidings_store::{BroadcastRow, Write};

/// The broadcasts a batch stores.
pub fn stored(writes: &[Write]) -> Vec<(AppId, BroadcastRow)> {
    writes
        .iter()
        .filter_map(|w| match w {
            Write::Broadcast { app, row } => Some((app.clone(), row.clone())),
            _ => None,
        })
        .collect()
}

/// Publishes committed broadcasts. Best effort like every live push: a gateway that misses
/// one reads it from the store when the next one shows a gap, and clients catch up by `bseq`.
pub async fn publish(client: &async_nats::Client, rows: Vec<(AppId, BroadcastRow)>) {
    for (app, row) in rows {
        let payload = rmp_serde::to_vec_named(&row).expect("broadcast rows encode");
        if let Err(error) = client
            .publish(subjects::broadcasts(&app), payload.into())
            .await
        {
            tracing::warn!(%error, "live broadcast failed");
        }
    }
}
