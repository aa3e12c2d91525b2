//! Opening an account: a new id, a kind that fits its fund and party, and only the external
//! account may go negative.

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
        if self.public
            && let AccountRef::Committed { opening: None, .. } = account
        {
            return self.open_pool(index, kind, flags, fund, party, undo);
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
                issued: false,
                opened_at: index,
            },
        );
        self.history.insert(*account, vec![index]);
        Ok(())
    }

    /// Public replay: a voucher opened under a commitment joins its fund's pool account.
    fn open_pool(
        &mut self,
        index: u64,
        kind: AccountKind,
        flags: u16,
        fund: &Uuid,
        party: &Uuid,
        undo: &mut Undo,
    ) -> Result<(), Rejection> {
        let pool = super::pool_id(fund);
        if let Some(existing) = self.accounts.get(&pool).copied() {
            // The fund's pool exists: only check what a new voucher must be.
            if existing.kind != AccountKind::Voucher
                || existing.fund != *fund
                || kind != AccountKind::Voucher
                || flags != FLAG_NO_NEGATIVE
                || !party.is_nil()
            {
                return Err(Rejection::InvalidAccount("a voucher belongs to a fund"));
            }
            undo.accounts.push((pool, Some(existing)));
            self.history.entry(pool).or_default().push(index);
            return Ok(());
        }
        self.check_open(&pool, kind, flags, fund, party)?;
        undo.accounts.push((pool, None));
        self.accounts.insert(
            pool,
            Account {
                kind,
                flags,
                fund: *fund,
                party: *party,
                status: AccountStatus::Active,
                balance: Cents::ZERO,
                // A pool takes any number of issues and top-ups.
                issued: true,
                opened_at: index,
            },
        );
        self.history.insert(pool, vec![index]);
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
