//! The storage conformance suite, run against every adapter that can run here.

mod conformance;
mod fjall;
