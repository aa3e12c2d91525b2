//! An account's status changes: block, unblock, reissue, close.

use super::{Account, LedgerState, Rejection, Undo};
use crate::core::entry::{AccountKind, AccountRef, AccountStatus};
use crate::core::money::Cents;

impl LedgerState {
    /// Vouchers and providers change status; only an empty account closes; a closed account
    /// never changes again.
    pub(super) fn apply_account_state(
        &mut self,
        index: u64,
        account: &AccountRef,
        status: AccountStatus,
        undo: &mut Undo,
    ) -> Result<(), Rejection> {
        if self.public
            && let AccountRef::Committed { opening: None, .. } = account
        {
            // Public replay: which voucher changed is not public; only a closed account's
            // balance could be checked, and a voucher's is not known here.
            let _ = (index, undo);
            return Ok(());
        }
        let account = &self.resolve(account)?;
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
        if status == AccountStatus::Closed && acc.balance != Cents::ZERO {
            return Err(Rejection::InvalidAccount(
                "only an empty account can be closed",
            ));
        }
        let prev = *acc;
        let new = Account { status, ..prev };
        undo.accounts.push((*account, Some(prev)));
        self.accounts.insert(*account, new);
        self.history.entry(*account).or_default().push(index);
        Ok(())
    }
}
