//! An account's status or token generation changes: block, unblock, reissue, close.

use uuid::Uuid;

use super::{Account, LedgerState, Rejection, Undo};
use crate::core::entry::{AccountKind, AccountStatus};
use crate::core::money::Cents;

impl LedgerState {
    /// Vouchers and providers change status; the generation only goes up by one; only an
    /// empty account closes; a closed account never changes again.
    pub(super) fn apply_account_state(
        &mut self,
        index: u64,
        account: &Uuid,
        status: AccountStatus,
        generation: u8,
        undo: &mut Undo,
    ) -> Result<(), Rejection> {
        let acc = self
            .accounts
            .get(account)
            .ok_or(Rejection::UnknownAccount(*account))?;
        if !matches!(acc.kind, AccountKind::Voucher | AccountKind::Provider) {
            return Err(Rejection::InvalidAccount(
                "only vouchers and providers change state",
            ));
        }
        if acc.status == AccountStatus::Closed {
            return Err(Rejection::Closed(*account));
        }
        let next = acc.generation.checked_add(1);
        if generation != acc.generation && Some(generation) != next {
            return Err(Rejection::InvalidAccount(
                "generation may only go up by one",
            ));
        }
        if status == AccountStatus::Closed && acc.balance != Cents::ZERO {
            return Err(Rejection::InvalidAccount(
                "only an empty account can be closed",
            ));
        }
        let prev = *acc;
        let new = Account {
            status,
            generation,
            ..prev
        };
        undo.accounts.push((*account, Some(prev)));
        self.accounts.insert(*account, new);
        self.history.entry(*account).or_default().push(index);
        Ok(())
    }
}
