//! tidings-bench: measures Tidings the way users and peers measure IM backends, against a
//! running server on this machine, and prints the machine, configuration and results.

mod broadcast;
mod catch_up;
mod connections;
mod conversations;
mod direct;
mod files;
mod group;
mod history;
mod hops;
mod jetstream;
mod lifecycle;
mod machine;
mod presence;
mod process_cpu;
mod profiles;
mod replay;
mod rng;
mod screens;
mod server;
mod service;
mod summary;
mod typing;
mod ws_client;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "tidings-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Catch-up pages through an inbox of message references joined from the timelines,
    /// against one of whole entries (embedded store).
    CatchUp(catch_up::Args),
    /// K idle authenticated connections: handshakes/s and gateway memory per connection.
    Connections(connections::Args),
    /// Reads of conversation rows that follow their timeline against rows written on every
    /// message, alone and as a list (embedded store).
    Conversations(conversations::Args),
    /// One-to-one messages over WebSocket between N user pairs, end to end.
    Direct(direct::Args),
    /// Upload and download throughput of one file (10 MiB) through the client REST routes.
    Files(files::Args),
    /// One sender, a group of M connected members: time to the last member, deliveries/s.
    Group(group::Args),
    /// History pages by time on a conversation of many messages (embedded store): reads and
    /// latency per page.
    History(history::Args),
    /// Raw pipelined JetStream publish throughput against the same nats-server.
    Jetstream(jetstream::Args),
    /// Sends mixed with recalls, edits and reactions over WebSocket at a target rate: answer
    /// latency per action kind.
    Lifecycle(lifecycle::Args),
    /// One user watched by N connected subscribers goes online and offline: time until each
    /// subscriber, and the last, hears of it.
    Presence(presence::Args),
    /// Batch profile lookups (100 ids), cold and warm.
    Profiles(profiles::Args),
    /// Rebuild rate of the read models from the stream (`tidings replay`), events/s.
    Replay(replay::Args),
    /// One sender typing in G groups of R connected members: typing frames relayed per second.
    Typing(typing::Args),
    /// Customers arriving at once at a service with many agents: time to assign p50/p99.
    Service(service::Args),
    /// One broadcast to N users (read diffusion) against system messages to the same users
    /// (write diffusion): time to send, time until readable, bytes stored.
    Broadcast(broadcast::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    println!("{}", machine::describe());
    match cli.command {
        Command::CatchUp(args) => catch_up::run(args).await,
        Command::Connections(args) => connections::run(args).await,
        Command::Conversations(args) => conversations::run(args).await,
        Command::Direct(args) => direct::run(args).await,
        Command::Files(args) => files::run(args).await,
        Command::Group(args) => group::run(args).await,
        Command::History(args) => history::run(args).await,
        Command::Jetstream(args) => jetstream::run(args).await,
        Command::Lifecycle(args) => lifecycle::run(args).await,
        Command::Presence(args) => presence::run(args).await,
        Command::Profiles(args) => profiles::run(args).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Typing(args) => typing::run(args).await,
        Command::Service(args) => service::run(args).await,
        Command::Broadcast(args) => broadcast::run(args).await,
    }
}
