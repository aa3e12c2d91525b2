//! Kindpakket: child budgets for sport and culture on an append-only, signed, verifiable ledger.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod core;
pub mod demo;
pub mod http;
pub mod keys;
pub mod ledger;
pub mod service;
pub mod store;
