//! Kindpakket: child budgets for sport and culture on an append-only, signed, verifiable ledger.
//!
//! Data flows one way: `http` → `service` → `ledger` / `store` → `core`.
#![forbid(unsafe_code)]

pub mod cli;
pub mod core;
pub mod http;
pub(crate) mod keys;
pub mod ledger;
pub mod service;
pub mod store;
