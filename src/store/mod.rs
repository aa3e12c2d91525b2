//! Storage: one interface over SQLite (embedded default) and PostgreSQL (production).
//!
//! All SQL of the crate lives in this module, written once with `$1` placeholders and run
//! against whichever native pool is in use ([`with_db!`]); only schema files differ per backend
//! (`migrations/sqlite`, `migrations/postgres`, same numbers). Rows map by column name
//! (`sqlx::FromRow`) into types built from the core's newtypes ([`codec`]). Callers change
//! the ledger's surrounding rows only through the closed set of typed [`Change`]s: with a
//! ledger command (run by the sequencer's [`Writer`], in the command's transaction) or on
//! their own ([`Store::apply`]); users and sessions have typed methods (`users.rs`).
//!
//! One file per table group: [`funds`], [`households`], [`providers`], [`vouchers`],
//! [`redemptions`] (with reversals and entry notes), [`users`] (with sessions),
//! [`idempotency`], and [`log`] (the ledger's own tables).

mod change;
mod codec;
mod connect;
pub(crate) mod funds;
pub(crate) mod households;
pub(crate) mod idempotency;
pub(crate) mod keys;
pub(crate) mod log;
mod migrate;
pub(crate) mod pool;
mod precondition;
pub(crate) mod providers;
pub(crate) mod redemptions;
pub(crate) mod users;
pub(crate) mod vouchers;
mod writer;

pub use change::Change;
pub use codec::EntryIndex;
pub use pool::{Db, Store, StoreError};
pub use precondition::Precondition;
pub use writer::Writer;
