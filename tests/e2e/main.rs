//! End-to-end tests: the real `tidings` server (and binary), a real nats-server, real sockets.

mod access;
mod annotations;
mod bad_input;
mod catch_up;
mod concurrency;
mod dead_letter;
mod direct;
mod edge;
mod files;
mod gaps;
mod groups;
mod harness;
mod history;
mod idempotency;
mod inbound;
mod lifecycle;
mod metrics;
mod partitions;
mod process;
mod profiles;
mod projector_crash;
mod race;
mod read_your_writes;
mod replay;
mod social;
mod supervision;
