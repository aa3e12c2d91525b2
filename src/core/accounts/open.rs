//! Opening an account: a new id, a kind that fits its fund and party, and only the external
//! account may go negative. A voucher account is not opened here: its first issue opens it
//! (`transfer.rs`), so that no entry but the issue itself belongs to a new voucher.

use uuid::Uuid;

use super::{Account, LedgerState, Rejection, Undo};
use crate::core::entry::{AccountKind, AccountRef, AccountStatus, FLAG_NO_NEGATIVE};
use crate::core::money::Cents;

impl LedgerState {
    /// A new account, empty and active.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn apply_open_account(
        &mut self,
        index: u64,
        account: &AccountRef,
        kind: AccountKind,
        flags: u16,
        fund: &Uuid,
        party: &Uuid,
        undo: &mut Undo,
    ) -> Result<(), Rejection> {
        if account.is_voucher() != (kind == AccountKind::Voucher) {
            return Err(Rejection::InvalidAccount(
                "a voucher account is named by a commitment, every other account in the clear",
            ));
        }
        if kind == AccountKind::Voucher {
            return Err(Rejection::InvalidAccount(
                "a voucher account is opened by its first issue, not by open_account",
            ));
        }
        let account = &self.resolve(account)?;
        if self.pool_ids.contains_key(account) {
            return Err(Rejection::InvalidAccount(
                "this id stands for a fund's vouchers in the public audit",
            ));
        }
        if kind == AccountKind::Fund && self.accounts.contains_key(&super::pool_id(account)) {
            return Err(Rejection::InvalidAccount(
                "an account already has this fund's pool id",
            ));
        }
        self.check_open(account, kind, flags, fund, party)?;
        if kind == AccountKind::Fund {
            self.pool_ids.insert(super::pool_id(account), *account);
        }
        undo.accounts.push((*account, None));
        self.accounts.insert(
            *account,
            Account {
                kind,
                flags,
                fund: *fund,
                party: *party,
                status: AccountStatus::Active,
                balance: Cents::ZERO,
                opened_at: index,
            },
        );
        self.history.insert(*account, vec![index]);
        Ok(())
    }

    fn check_open(
        &self,
        account: &Uuid,
        kind: AccountKind,
        flags: u16,
        fund: &Uuid,
        party: &Uuid,
    ) -> Result<(), Rejection> {
        if account.is_nil() {
            return Err(Rejection::InvalidAccount("nil account id"));
        }
        if self.accounts.contains_key(account) {
            return Err(Rejection::AccountExists(*account));
        }
        if kind != AccountKind::External && flags & FLAG_NO_NEGATIVE == 0 {
            return Err(Rejection::InvalidAccount(
                "only external accounts may go negative",
            ));
        }
        let fund_ok = |f: &Uuid| {
            self.accounts
                .get(f)
                .is_some_and(|a| a.kind == AccountKind::Fund)
        };
        match kind {
            AccountKind::External | AccountKind::Fund | AccountKind::Bank => {
                if !fund.is_nil() || !party.is_nil() {
                    return Err(Rejection::InvalidAccount("this kind has no fund or party"));
                }
            }
            AccountKind::Voucher => {
                return Err(Rejection::InvalidAccount(
                    "a voucher account is opened by its first issue, not by open_account",
                ));
            }
            AccountKind::Provider => {
                if !fund_ok(fund) || party.is_nil() {
                    return Err(Rejection::InvalidAccount(
                        "a provider account names a fund and a provider",
                    ));
                }
            }
        }
        Ok(())
    }
}
