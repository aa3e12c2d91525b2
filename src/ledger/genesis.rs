//! The first entries of a new ledger (genesis, the voucher key, the external and bank
//! accounts), and key rotation.

use tokio::sync::oneshot;
use uuid::Uuid;

use super::handle::{Appended, Command, Draft, Job, Ledger, LedgerError, Sequencer};
use crate::core::entry::{AccountKind, AccountRef, Body, FLAG_NO_NEGATIVE, KeyAction, KeyPurpose};
use crate::core::note;
use crate::core::token;
use crate::keys::KeyError;

impl Ledger {
    /// Adds a new key of `purpose` and retires the one it replaces. Old public keys stay on the
    /// ledger, so everything they signed still verifies.
    pub async fn rotate(&self, purpose: KeyPurpose) -> Result<Appended, LedgerError> {
        let old = {
            let state = self.state().await;
            state
                .active_key(purpose)
                .map(|(id, k)| (id, k.public_key))
                .ok_or_else(|| LedgerError::Corrupt(format!("no active {purpose} key")))?
        };
        let new = {
            let mut keys = self
                .inner
                .keys
                .lock()
                .map_err(|_| LedgerError::Unavailable("key ring lock poisoned".into()))?;
            keys.generate(purpose)?.verifying_key()
        };
        let new_id = match purpose {
            KeyPurpose::Ledger => note::key_id(&self.inner.origin, new.as_bytes()),
            KeyPurpose::Voucher => token::voucher_key_id(&new),
        };
        self.submit(Command {
            entries: vec![
                Draft::new(Body::KeyEvent {
                    action: KeyAction::Added,
                    purpose,
                    key_id: new_id,
                    public_key: *new.as_bytes(),
                }),
                Draft::new(Body::KeyEvent {
                    action: KeyAction::Retired,
                    purpose,
                    key_id: old.0,
                    public_key: old.1,
                }),
            ],
            changes: Vec::new(),
        })
        .await
    }
}

pub(super) fn random_origin() -> Result<String, LedgerError> {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).map_err(|_| KeyError::Random)?;
    Ok(format!("kindpakket.local/ledger-{}", note::hex(&b)))
}

impl Sequencer {
    /// Writes the first entries of a new ledger: genesis, the voucher key, and the external
    /// (sponsor) and bank accounts.
    pub(super) async fn genesis(&mut self) -> Result<(), LedgerError> {
        let (ledger_pk, voucher_pk) = {
            let keys = self
                .inner
                .keys
                .lock()
                .map_err(|_| LedgerError::Unavailable("key ring lock poisoned".into()))?;
            let l = keys
                .newest(KeyPurpose::Ledger)
                .ok_or_else(|| LedgerError::Corrupt("no ledger key".into()))?
                .verifying_key();
            let v = keys
                .newest(KeyPurpose::Voucher)
                .ok_or_else(|| LedgerError::Corrupt("no voucher key".into()))?
                .verifying_key();
            (l, v)
        };
        let account = |kind| {
            Draft::new(Body::OpenAccount {
                account: AccountRef::Clear(Uuid::new_v4()),
                kind,
                flags: if kind == AccountKind::External {
                    0
                } else {
                    FLAG_NO_NEGATIVE
                },
                fund: Uuid::nil(),
                party: Uuid::nil(),
            })
        };
        let command = Command {
            entries: vec![
                Draft::new(Body::Genesis {
                    origin: self.inner.origin.clone(),
                    ledger_key: *ledger_pk.as_bytes(),
                }),
                Draft::new(Body::KeyEvent {
                    action: KeyAction::Added,
                    purpose: KeyPurpose::Voucher,
                    key_id: token::voucher_key_id(&voucher_pk),
                    public_key: *voucher_pk.as_bytes(),
                }),
                account(AccountKind::External),
                account(AccountKind::Bank),
            ],
            changes: Vec::new(),
        };
        let (reply, rx) = oneshot::channel();
        self.batch(vec![Job { command, reply }]).await;
        match rx.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LedgerError::Unavailable("genesis was not written".into())),
        }
    }
}
