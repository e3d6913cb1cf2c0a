//! What the numbers were measured on.

/// One line: cores, CPU model, OS, tool version.
pub fn describe() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    format!(
        "machine: cores={cores} cpu={model:?} os={} tidings-bench={}",
        std::env::consts::OS,
        env!("CARGO_PKG_VERSION")
    )
}
