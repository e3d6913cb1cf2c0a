//! Client REST for a user's own devices: the list (the registry joined with presence and the
//! delivered and read position of each device), and signing one out, which closes its
//! sessions on every gateway as the server API's sign-out does.

use crate::GatewayState;
use crate::device_presence::{self, DevicePresence};
use crate::errors::store_error;
use crate::query::ApiQuery;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tidings_api::error::ApiError;
use tidings_api::json::ApiPath;
use tidings_domain::DeviceId;
use tidings_store::{DeviceReadRow, DeviceRow, ReadModels};

/// The device routes.
pub fn router<S: ReadModels>() -> Router<GatewayState<S>> {
    Router::new()
        .route("/v1/devices", get(list::<S>))
        .route("/v1/devices/{device}", delete(sign_out::<S>))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The caller's devices, ordered by device id: every device registered (said hello), or known
/// only by an `ack` or presence from before the registry, each with its platform, presence,
/// delivered (`ack`) and read positions.
async fn list<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let store = &state.shared.store;
    let (registered, acks, reads, presence) = futures_util::join!(
        store.devices(&me.app, &me.user),
        store.device_acks(&me.app, &me.user),
        store.device_reads(&me.app, &me.user),
        device_presence::of_user(&state.shared.presence, &me.app, &me.user),
    );
    let presence = presence.map_err(|e| ApiError::unavailable("reading presence", e))?;
    let mut devices: BTreeMap<String, Listed> = BTreeMap::new();
    for row in registered.map_err(store_error)? {
        let device = row.device.to_string();
        devices.entry(device).or_default().row = Some(row);
    }
    for (device, delivered) in acks.map_err(store_error)? {
        devices.entry(device).or_default().delivered = delivered;
    }
    for read in reads.map_err(store_error)? {
        let device = read.device.to_string();
        devices.entry(device).or_default().read = Some(read);
    }
    for (device, now) in presence {
        devices.entry(device).or_default().presence = now;
    }
    let devices: Vec<Value> = devices
        .into_iter()
        .map(|(device, listed)| listed.json(device))
        .collect();
    Ok(Json(json!({ "devices": devices })))
}

/// What the listing knows of one device.
#[derive(Default)]
struct Listed {
    row: Option<DeviceRow>,
    delivered: u64,
    read: Option<DeviceReadRow>,
    presence: DevicePresence,
}

impl Listed {
    fn json(self, device: String) -> Value {
        let row = self.row.as_ref();
        let signed_out = row.is_some_and(|r| r.signed_out);
        json!({
            "device": device,
            "platform": row.map(|r| r.platform),
            "registered_at": row.filter(|r| !r.signed_out).map(|r| r.at),
            "signed_out_at": row.filter(|r| r.signed_out).map(|r| r.at),
            "signed_out": signed_out,
            "online": self.presence.online,
            "last_seen": self.presence.last_seen,
            "delivered": self.delivered,
            "read": self.read.map(|r| json!({"conv": r.conv, "conv_seq": r.conv_seq, "ts": r.ts})),
        })
    }
}

async fn sign_out<S: ReadModels>(
    State(state): State<GatewayState<S>>,
    headers: HeaderMap,
    ApiPath(device): ApiPath<String>,
    ApiQuery(query): ApiQuery<TokenQuery>,
) -> Result<Json<Value>, ApiError> {
    let me = state.me(&headers, query.token.as_deref()).await?;
    let device = DeviceId::parse(device)?;
    state
        .shared
        .commands
        .sign_out_device(&me.app, &me.user, &device)
        .await?;
    Ok(Json(json!({ "device": device, "signed_out": true })))
}
