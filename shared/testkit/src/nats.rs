//! A real nats-server with JetStream per test, killed on drop.

use tidings_runtime::nats_server::{NatsServer, Options};

/// A nats-server in a temporary directory.
pub struct TestNats {
    server: NatsServer,
    _dir: tempfile::TempDir,
}

impl TestNats {
    /// Starts a server on a free port (the server picks it; we read it back).
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = NatsServer::start(&Options {
            store_dir: dir.path().to_path_buf(),
            port: None,
            sync_always: false,
            extra_config: String::new(),
        })
        .expect("nats-server starts (run scripts/setup to install one)");
        Self { server, _dir: dir }
    }

    /// The client URL.
    pub fn url(&self) -> &str {
        self.server.url()
    }

    /// A new client connection.
    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(self.url())
            .await
            .expect("connect to test nats")
    }
}
