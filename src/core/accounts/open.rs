//! Opening an account: a new id, a kind that fits its fund and party, and only the external
//! account may go negative.

use uuid::Uuid;

use super::{Account, LedgerState, Rejection, Undo};
use crate::core::entry::{AccountKind, AccountStatus, FLAG_NO_NEGATIVE};
use crate::core::money::Cents;

impl LedgerState {
    /// A new account, empty and active.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn apply_open_account(
        &mut self,
        index: u64,
        account: &Uuid,
        kind: AccountKind,
        flags: u16,
        fund: &Uuid,
        party: &Uuid,
        undo: &mut Undo,
    ) -> Result<(), Rejection> {
        self.check_open(account, kind, flags, fund, party)?;
        undo.accounts.push((*account, None));
        self.accounts.insert(
            *account,
            Account {
                kind,
                flags,
                fund: *fund,
                party: *party,
                status: AccountStatus::Active,
                generation: 0,
                balance: Cents::ZERO,
                issued: false,
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
                if !fund_ok(fund) || !party.is_nil() {
                    return Err(Rejection::InvalidAccount("a voucher belongs to a fund"));
                }
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
