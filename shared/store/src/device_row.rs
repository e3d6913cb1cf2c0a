//! A user's devices as the read models keep them: the registry row, one per (app, user, device),
//! replaced whole by each `device_registered` / `device_signed_out` (no read before write).

use serde::{Deserialize, Serialize};
use tidings_domain::login::Platform;
use tidings_domain::{ConvId, DeviceId};

/// One registered device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRow {
    pub device: DeviceId,
    pub platform: Platform,
    /// When it registered, or was signed out when `signed_out` (milliseconds).
    pub at: i64,
    pub signed_out: bool,
    /// The stream sequence of the change: a replay from an older checkpoint never overwrites
    /// a newer one.
    pub cursor: u64,
}

/// The read marker a device last moved: one row per (app, user, device), replaced by each
/// `conversation_read` that names the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceReadRow {
    pub device: DeviceId,
    pub conv: ConvId,
    pub conv_seq: u64,
    /// When it read (milliseconds).
    pub ts: i64,
    /// The stream sequence of the read.
    pub cursor: u64,
}
