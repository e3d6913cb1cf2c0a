//! A user's device as the registry read model keeps it: one row per (app, user, device),
//! replaced whole by each `device_registered` / `device_signed_out` (no read before write).

use serde::{Deserialize, Serialize};
use tidings_domain::DeviceId;
use tidings_domain::login::Platform;

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
