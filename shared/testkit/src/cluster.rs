//! A real 3-node NATS JetStream cluster on loopback (routes between the nodes), for tests that
//! must survive the loss of a node.

use tidings_runtime::nats_server::{NatsServer, Options};

/// A free TCP port on loopback (the cluster's route ports must be known before start-up).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Three nats-servers forming one JetStream cluster.
pub struct TestCluster {
    nodes: Vec<Option<NatsServer>>,
    _dir: tempfile::TempDir,
}

impl TestCluster {
    /// Starts the three nodes and waits until each accepts clients.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let route_urls = routes
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let nodes = routes
            .iter()
            .enumerate()
            .map(|(i, port)| {
                let extra = format!(
                    "server_name: n{i}\ncluster {{\n  name: tidings\n  host: 127.0.0.1\n  port: {port}\n  routes: [{route_urls}]\n}}\n"
                );
                Some(
                    NatsServer::start(&Options {
                        store_dir: dir.path().join(format!("n{i}")),
                        port: None,
                        sync_always: false,
                        extra_config: extra,
                    })
                    .expect("cluster node starts"),
                )
            })
            .collect();
        Self { nodes, _dir: dir }
    }

    /// Every live node's client URL, comma-separated (as NATS clients take a server list).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .flatten()
            .map(|n| n.url().to_owned())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills node `i` (SIGKILL), as a crashed machine would stop.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut node) = self.nodes[i].take() {
            node.kill();
        }
    }
}
