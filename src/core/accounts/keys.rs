//! Genesis (the log's origin and first ledger key) and key events (a key added or retired).

use super::{KeyRecord, LedgerState, Rejection, Undo, usable_key};
use crate::core::entry::{KeyAction, KeyPurpose, SignedEntry};
use crate::core::note::Vkey;
use crate::core::{note, token};

impl LedgerState {
    /// Verifier keys (named by the origin) of every ledger key the ledger has had, oldest
    /// first: what checkpoints and receipts are checked against.
    pub fn ledger_vkeys(&self) -> Vec<Vkey> {
        let origin = self.origin.as_deref().unwrap_or_default();
        let mut keys: Vec<_> = self.ledger_keys.values().collect();
        keys.sort_by_key(|k| k.added_at);
        keys.into_iter()
            .filter_map(|k| ed25519_dalek::VerifyingKey::from_bytes(&k.public_key).ok())
            .filter_map(|k| Vkey::new(origin, k).ok())
            .collect()
    }

    /// Entry 0: the origin, and the key that signed it as the first ledger key.
    pub(super) fn apply_genesis(
        &mut self,
        e: &SignedEntry,
        origin: &str,
        ledger_key: &[u8; 32],
        undo: &mut Undo,
    ) -> Result<(), Rejection> {
        if !note::valid_key_name(origin) {
            return Err(Rejection::Key("the origin is not a valid key name"));
        }
        if e.key_id != note::key_id(origin, ledger_key) {
            return Err(Rejection::Signer);
        }
        if !usable_key(ledger_key) {
            return Err(Rejection::Key("not a usable public key"));
        }
        self.origin = Some(origin.to_owned());
        self.ledger_keys.insert(
            e.key_id,
            KeyRecord {
                public_key: *ledger_key,
                added_at: 0,
                retired_at: None,
            },
        );
        undo.key = Some((KeyPurpose::Ledger, e.key_id, None));
        Ok(())
    }

    /// A key added or retired: its id must fit the key, a key is added once and retired
    /// once, and the last ledger key cannot be retired.
    pub(super) fn apply_key_event(
        &mut self,
        index: u64,
        action: KeyAction,
        purpose: KeyPurpose,
        key_id: &[u8; 4],
        public_key: &[u8; 32],
        undo: &mut Undo,
    ) -> Result<(), Rejection> {
        if action == KeyAction::Added && !usable_key(public_key) {
            return Err(Rejection::Key("not a usable public key"));
        }
        let expected_id = match purpose {
            KeyPurpose::Ledger => note::key_id(self.origin.as_deref().unwrap_or(""), public_key),
            KeyPurpose::Voucher => {
                let vk = ed25519_dalek::VerifyingKey::from_bytes(public_key)
                    .map_err(|_| Rejection::Key("not a valid public key"))?;
                token::voucher_key_id(&vk)
            }
        };
        if *key_id != expected_id {
            return Err(Rejection::Key("key id does not match the key"));
        }
        let keys = match purpose {
            KeyPurpose::Ledger => &mut self.ledger_keys,
            KeyPurpose::Voucher => &mut self.voucher_keys,
        };
        let prev = keys.get(key_id).cloned();
        match action {
            KeyAction::Added => {
                if prev.is_some() {
                    return Err(Rejection::Key("key already known"));
                }
                keys.insert(
                    *key_id,
                    KeyRecord {
                        public_key: *public_key,
                        added_at: index,
                        retired_at: None,
                    },
                );
            }
            KeyAction::Retired => {
                let Some(rec) = prev.clone().filter(|k| k.public_key == *public_key) else {
                    return Err(Rejection::Key("unknown key"));
                };
                if rec.retired_at.is_some() {
                    return Err(Rejection::Key("key already retired"));
                }
                let active = keys.values().filter(|k| k.retired_at.is_none()).count();
                if purpose == KeyPurpose::Ledger && active <= 1 {
                    return Err(Rejection::Key("cannot retire the last ledger key"));
                }
                keys.insert(
                    *key_id,
                    KeyRecord {
                        retired_at: Some(index),
                        ..rec
                    },
                );
            }
        }
        undo.key = Some((purpose, *key_id, prev));
        Ok(())
    }
}
