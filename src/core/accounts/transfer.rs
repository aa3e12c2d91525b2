//! Transfers: every kind moves money only along its own path, never below zero, with a token
//! record for a redemption and the exact mirror for a reversal.

use uuid::Uuid;

use super::{Account, LedgerState, Rejection, ReversibleTransfer, Undo, put};
use crate::core::category::Category;
use crate::core::entry::{
    AccountKind, AccountStatus, Body, Entry, FLAG_NO_NEGATIVE, Leg, TransferKind,
};
use crate::core::token::TokenRecord;

impl LedgerState {
    /// A transfer: checked as a whole, then applied leg by leg.
    pub(super) fn apply_transfer(
        &mut self,
        entry: &Entry,
        undo: &mut Undo,
    ) -> Result<(), Rejection> {
        let Body::Transfer {
            kind,
            category,
            reference,
            legs,
            attachment,
        } = &entry.body
        else {
            return Err(Rejection::InvalidTransfer("not a transfer"));
        };
        let changed =
            self.check_transfer(entry.time_ms, *kind, *category, reference, legs, attachment)?;
        if *kind == TransferKind::Reverse {
            let t = self
                .transfers
                .get_mut(reference)
                .ok_or(Rejection::UnknownTransfer(*reference))?;
            t.reversed_at = Some(entry.index);
            undo.reversed = Some(*reference);
        }
        if matches!(kind, TransferKind::Redeem | TransferKind::DirectPayment) {
            self.transfers.insert(
                entry.id,
                ReversibleTransfer {
                    index: entry.index,
                    kind: *kind,
                    category: *category,
                    legs: legs.clone(),
                    reversed_at: None,
                },
            );
            undo.transfer_added = Some(entry.id);
        }
        for (id, acc) in changed {
            let prev = self.accounts.insert(id, acc);
            undo.accounts.push((id, prev));
            self.history.entry(id).or_default().push(entry.index);
        }
        Ok(())
    }

    /// The legs and category a reversal of the redemption or direct payment `original` must
    /// have: the original's, mirrored. The money goes back where it came from: to the voucher,
    /// or, when the voucher has been closed since (its fund expired), to the voucher's fund, as
    /// expiry would have sent it. This is the one place that decides where it goes.
    pub fn reversal_of(&self, original: &Uuid) -> Result<(Vec<Leg>, Option<Category>), Rejection> {
        let orig = self
            .transfers
            .get(original)
            .ok_or(Rejection::UnknownTransfer(*original))?;
        if orig.reversed_at.is_some() {
            return Err(Rejection::AlreadyReversed(*original));
        }
        let legs = orig
            .legs
            .iter()
            .map(|l| Leg {
                debit: l.credit,
                credit: match self.accounts.get(&l.debit) {
                    Some(v)
                        if v.kind == AccountKind::Voucher && v.status == AccountStatus::Closed =>
                    {
                        v.fund
                    }
                    _ => l.debit,
                },
                amount: l.amount,
            })
            .collect();
        Ok((legs, orig.category))
    }

    /// Checks a transfer and returns the new state of every account it touches.
    fn check_transfer(
        &self,
        time_ms: u64,
        kind: TransferKind,
        category: Option<Category>,
        reference: &Uuid,
        legs: &[Leg],
        attachment: &[u8],
    ) -> Result<Vec<(Uuid, Account)>, Rejection> {
        use AccountKind as K;
        use TransferKind as T;
        if legs.is_empty() {
            return Err(Rejection::InvalidTransfer("no legs"));
        }
        let needs_category = matches!(kind, T::Redeem | T::DirectPayment | T::Reverse);
        if needs_category != category.is_some() {
            return Err(Rejection::InvalidTransfer(
                "only redemptions, direct payments and their reversals carry a category",
            ));
        }
        if matches!(kind, T::Redeem | T::DirectPayment | T::Reverse) && legs.len() != 1 {
            return Err(Rejection::InvalidTransfer("this kind has exactly one leg"));
        }
        let refs_something = matches!(kind, T::Reverse);
        if refs_something == reference.is_nil() {
            return Err(Rejection::InvalidTransfer(
                "only a reversal refers to another entry",
            ));
        }
        match kind {
            T::Redeem => {}
            T::Payout if attachment.len() > 64 => {
                return Err(Rejection::InvalidTransfer("payout attachment too long"));
            }
            T::Payout => {}
            _ if !attachment.is_empty() => {
                return Err(Rejection::InvalidTransfer("unexpected attachment"));
            }
            _ => {}
        }
        if kind == T::Reverse {
            let (mirrored, original_category) = self.reversal_of(reference)?;
            if mirrored != legs || original_category != category {
                return Err(Rejection::InvalidTransfer(
                    "a reversal mirrors the original exactly",
                ));
            }
        }
        let mut changed: Vec<(Uuid, Account)> = Vec::new();
        for leg in legs {
            if leg.debit == leg.credit {
                return Err(Rejection::InvalidTransfer(
                    "debit and credit are the same account",
                ));
            }
            if !leg.amount.is_positive() {
                return Err(Rejection::InvalidTransfer("amounts must be positive"));
            }
            let d = self.current(&changed, &leg.debit)?;
            let c = self.current(&changed, &leg.credit)?;
            for (id, a) in [(leg.debit, &d), (leg.credit, &c)] {
                if a.status == AccountStatus::Closed {
                    return Err(Rejection::Closed(id));
                }
            }
            let path_ok = match kind {
                T::Deposit => d.kind == K::External && c.kind == K::Fund,
                T::Issue | T::TopUp => {
                    d.kind == K::Fund && c.kind == K::Voucher && c.fund == leg.debit
                }
                T::Redeem | T::DirectPayment => {
                    d.kind == K::Voucher && c.kind == K::Provider && c.fund == d.fund
                }
                T::Reverse => {
                    d.kind == K::Provider
                        && (c.kind == K::Voucher || (c.kind == K::Fund && d.fund == leg.credit))
                }
                T::Expire => d.kind == K::Voucher && c.kind == K::Fund && d.fund == leg.credit,
                T::Payout => d.kind == K::Provider && c.kind == K::Bank,
            };
            if !path_ok {
                return Err(Rejection::InvalidTransfer(
                    "accounts do not fit the transfer kind",
                ));
            }
            let mut d = d;
            let mut c = c;
            match kind {
                T::Issue => {
                    if c.issued {
                        return Err(Rejection::AlreadyIssued(leg.credit));
                    }
                    c.issued = true;
                }
                T::TopUp if !c.issued => {
                    return Err(Rejection::InvalidTransfer("top-up before issue"));
                }
                T::Redeem | T::DirectPayment => {
                    if d.status == AccountStatus::Blocked {
                        return Err(Rejection::Blocked(leg.debit));
                    }
                    if c.status == AccountStatus::Blocked {
                        return Err(Rejection::InvalidTransfer("provider is blocked"));
                    }
                }
                _ => {}
            }
            if kind == T::Redeem {
                self.check_token(time_ms, attachment, leg.debit, &d, category)?;
            }
            let before = d.balance;
            d.balance = d
                .balance
                .checked_sub(leg.amount)
                .ok_or(Rejection::Overflow)?;
            if d.flags & FLAG_NO_NEGATIVE != 0 && d.balance.0 < 0 {
                return Err(Rejection::InsufficientBalance {
                    account: leg.debit,
                    balance: before,
                });
            }
            c.balance = c
                .balance
                .checked_add(leg.amount)
                .ok_or(Rejection::Overflow)?;
            put(&mut changed, leg.debit, d);
            put(&mut changed, leg.credit, c);
        }
        Ok(changed)
    }

    fn check_token(
        &self,
        time_ms: u64,
        attachment: &[u8],
        voucher: Uuid,
        acc: &Account,
        category: Option<Category>,
    ) -> Result<(), Rejection> {
        let t = TokenRecord::from_bytes(attachment)
            .map_err(|_| Rejection::Token("attachment is not a token record"))?;
        if t.voucher != voucher {
            return Err(Rejection::Token("token is for another voucher"));
        }
        if !self.voucher_keys.contains_key(&t.key_id) {
            return Err(Rejection::Token("token signed by an unknown voucher key"));
        }
        if t.generation != acc.generation {
            return Err(Rejection::Generation);
        }
        if time_ms / 1000 >= u64::from(t.expiry) {
            return Err(Rejection::Expired);
        }
        if !category.is_some_and(|c| t.categories.contains(c)) {
            return Err(Rejection::Category);
        }
        Ok(())
    }

    fn current(&self, changed: &[(Uuid, Account)], id: &Uuid) -> Result<Account, Rejection> {
        changed
            .iter()
            .rev()
            .find(|(i, _)| i == id)
            .map(|(_, a)| *a)
            .or_else(|| self.accounts.get(id).copied())
            .ok_or(Rejection::UnknownAccount(*id))
    }
}
