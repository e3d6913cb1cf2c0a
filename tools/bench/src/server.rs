//! Where the Tidings server under test is, and the app to use.

use tidings_testkit::ServerApi;

/// The server and app options every server-facing subcommand takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Server {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    #[arg(long, env = "TIDINGS_DEV_APP_KEY")]
    pub app_key: String,
    #[arg(long, env = "TIDINGS_DEV_APP_SECRET")]
    pub app_secret: String,
}

impl Server {
    /// A signed server-API client for the app.
    pub fn api(&self) -> ServerApi {
        ServerApi::new(&self.url, &self.app_key, &self.app_secret)
    }
}
