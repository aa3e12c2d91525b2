//! The single writer. One sequencer task per ledger takes queued commands, checks each against
//! the double-entry rules, writes the whole batch in one transaction (one fsync), then signs and
//! stores a checkpoint for the new tree, and only then answers every caller.
//!
//! A command is one or more entries plus row changes that must commit with them; it applies
//! completely or not at all, inside a savepoint, so a refused command never aborts the rest of
//! its batch. A crash before the commit loses only unanswered work; a crash after the commit but
//! before the checkpoint is repaired at the next start, which signs a checkpoint for what is on
//! disk. A checkpoint is never signed for an uncommitted entry.
//!
//! - [`sequencer`]: the task that batches, applies, commits, signs and answers;
//! - [`recovery`]: replaying the stored ledger at start-up and after a database failure;
//! - [`genesis`]: the first entries of a new ledger, and key rotation;
//! - [`proofs`]: inclusion and consistency proofs and receipts from the stored hashes.

mod genesis;
mod handle;
mod open;
mod proofs;
mod recovery;
mod sequencer;

pub use handle::{
    Appended, Command, Draft, Expect, Faults, Ledger, LedgerError, LedgerOptions, MAX_BATCH, QUEUE,
    SignedCheckpoint, wait_until,
};
