//! Transfers: every kind moves money only along its own path, never below zero; a reversal
//! mirrors one redemption; a deposit correction takes back at most what one deposit brought.

use uuid::Uuid;

use super::{Account, Flow, LedgerState, Rejection, ReversibleTransfer, Undo, put};
use crate::core::category::Category;
use crate::core::entry::{
    AccountKind, AccountRef, AccountStatus, Body, Entry, FLAG_NO_NEGATIVE, Leg, TransferKind,
};
use crate::core::money::Cents;

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
        // An issue funds (and may open) vouchers, which are only ever named by commitments.
        if *kind == TransferKind::Issue && legs.iter().any(|l| !l.credit.is_voucher()) {
            return Err(Rejection::InvalidAccount(
                "an issue credits a voucher, named by a commitment",
            ));
        }
        let flows = legs
            .iter()
            .map(|l| self.resolve_leg(l))
            .collect::<Result<Vec<Flow>, Rejection>>()?;
        let (changed, correction) =
            self.check_transfer(entry.index, *kind, *category, reference, &flows, attachment)?;
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
                    legs: flows.clone(),
                    reversed_at: None,
                },
            );
            undo.transfer_added = Some(entry.id);
        }
        if *kind == TransferKind::Deposit {
            self.deposits.insert(entry.id, flows);
            undo.deposit_added = Some(entry.id);
        }
        if let Some((key, now)) = correction {
            let prev = self.corrected.insert(key, now).unwrap_or(Cents::ZERO);
            undo.corrected = Some((key, prev));
        }
        for (id, acc) in changed {
            let prev = self.accounts.insert(id, acc);
            undo.accounts.push((id, prev));
            self.history.entry(id).or_default().push(entry.index);
        }
        Ok(())
    }

    /// A leg's accounts. In a public replay an unopened voucher commitment is the pool of the
    /// fund that the leg's other side (a fund or a provider, in the clear) belongs to.
    fn resolve_leg(&self, l: &Leg) -> Result<Flow, Rejection> {
        let fund_of = |r: &AccountRef| -> Option<Uuid> {
            let id = r.clear()?;
            let a = self.accounts.get(&id)?;
            match a.kind {
                AccountKind::Fund => Some(id),
                AccountKind::Provider => Some(a.fund),
                _ => None,
            }
        };
        Ok(Flow {
            debit: self.resolve_in(&l.debit, fund_of(&l.credit))?,
            credit: self.resolve_in(&l.credit, fund_of(&l.debit))?,
            amount: l.amount,
        })
    }

    /// The legs and category a reversal of the redemption or direct payment `original` must
    /// have: the original's, mirrored. The money goes back where it came from: to the voucher
    /// (under a fresh commitment), or, when the voucher has been closed since (its fund
    /// expired), to the voucher's fund, as expiry would have sent it. This is the one place that
    /// decides where it goes.
    pub fn reversal_of(&self, original: &Uuid) -> Result<(Vec<Leg>, Option<Category>), Rejection> {
        let orig = self
            .transfers
            .get(original)
            .ok_or(Rejection::UnknownTransfer(*original))?;
        if orig.reversed_at.is_some() {
            return Err(Rejection::AlreadyReversed(*original));
        }
        let legs = self
            .mirror(orig)
            .into_iter()
            .map(|f| Leg {
                debit: AccountRef::Clear(f.debit),
                credit: match self.accounts.get(&f.credit) {
                    Some(a) if a.kind == AccountKind::Voucher => AccountRef::Voucher(f.credit),
                    _ => AccountRef::Clear(f.credit),
                },
                amount: f.amount,
            })
            .collect();
        Ok((legs, orig.category))
    }

    fn mirror(&self, orig: &ReversibleTransfer) -> Vec<Flow> {
        orig.legs
            .iter()
            .map(|l| Flow {
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
            .collect()
    }

    /// Checks a transfer and returns the new state of every account it touches, and for a
    /// deposit correction the new corrected total of its deposit and fund.
    #[allow(clippy::type_complexity)]
    fn check_transfer(
        &self,
        index: u64,
        kind: TransferKind,
        category: Option<Category>,
        reference: &Uuid,
        legs: &[Flow],
        attachment: &[u8],
    ) -> Result<(Vec<(Uuid, Account)>, Option<((Uuid, Uuid, Uuid), Cents)>), Rejection> {
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
        let single = matches!(
            kind,
            T::Redeem | T::DirectPayment | T::Reverse | T::DepositCorrection
        );
        if single && legs.len() != 1 {
            return Err(Rejection::InvalidTransfer("this kind has exactly one leg"));
        }
        let refs_something = matches!(kind, T::Reverse | T::DepositCorrection);
        if refs_something == reference.is_nil() {
            return Err(Rejection::InvalidTransfer(
                "only a reversal or a deposit correction refers to another entry",
            ));
        }
        match kind {
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
            let orig = self
                .transfers
                .get(reference)
                .ok_or(Rejection::UnknownTransfer(*reference))?;
            if orig.reversed_at.is_some() {
                return Err(Rejection::AlreadyReversed(*reference));
            }
            let expected = self.mirror(orig);
            // In a public replay the voucher's pool stands for the voucher, which may have been
            // closed since: then the money goes to its fund.
            let fits = |e: &Flow, l: &Flow| {
                e.debit == l.debit
                    && e.amount == l.amount
                    && (e.credit == l.credit
                        || (self.public
                            && self.accounts.get(&e.credit).is_some_and(|p| {
                                p.kind == AccountKind::Voucher && p.fund == l.credit
                            })))
            };
            if expected.len() != legs.len()
                || !expected.iter().zip(legs).all(|(e, l)| fits(e, l))
                || orig.category != category
            {
                return Err(Rejection::InvalidTransfer(
                    "a reversal mirrors the original exactly",
                ));
            }
        }
        let mut correction = None;
        if kind == T::DepositCorrection {
            let leg = &legs[0];
            let deposit = self
                .deposits
                .get(reference)
                .ok_or(Rejection::UnknownDeposit(*reference))?;
            let brought: i64 = deposit
                .iter()
                .filter(|f| f.debit == leg.credit && f.credit == leg.debit)
                .map(|f| f.amount.0)
                .sum();
            if brought == 0 {
                return Err(Rejection::UnknownDeposit(*reference));
            }
            let key = (*reference, leg.debit, leg.credit);
            let before = self.corrected.get(&key).copied().unwrap_or(Cents::ZERO);
            let after = before.checked_add(leg.amount).ok_or(Rejection::Overflow)?;
            if after.0 > brought {
                return Err(Rejection::CorrectionTooLarge(*reference));
            }
            correction = Some((key, after));
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
            let c = match self.current(&changed, &leg.credit) {
                // An issue opens the voucher it funds (in a public replay: its fund's pool).
                Err(Rejection::UnknownAccount(_)) if kind == T::Issue => {
                    self.new_voucher(index, &leg.credit, &leg.debit)?
                }
                other => other?,
            };
            for (id, a) in [(leg.debit, &d), (leg.credit, &c)] {
                if a.status == AccountStatus::Closed {
                    return Err(Rejection::Closed(id));
                }
            }
            let path_ok = match kind {
                T::Deposit => d.kind == K::External && c.kind == K::Fund,
                T::DepositCorrection => d.kind == K::Fund && c.kind == K::External,
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
                // Several legs of one issue may fund one voucher (a household's pooled voucher
                // gets a leg per child); an earlier entry may not have issued (opened) it. A
                // fund's pool takes any number of issues.
                T::Issue if !self.public && self.accounts.contains_key(&leg.credit) => {
                    return Err(Rejection::AlreadyIssued(leg.credit));
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
        // Expiry returns every cent: each voucher it debits ends empty (checked where vouchers
        // are known; a public replay sees only the pool).
        if kind == T::Expire
            && !self.public
            && legs.iter().any(|l| {
                changed
                    .iter()
                    .any(|(id, a)| *id == l.debit && a.balance != Cents::ZERO)
            })
        {
            return Err(Rejection::InvalidTransfer(
                "an expiry returns a voucher's whole balance",
            ));
        }
        Ok((changed, correction))
    }

    /// The voucher account an issue leg opens: fresh, in the fund the leg debits. (Whether the
    /// debit is a fund is the path rule's to check.)
    fn new_voucher(&self, index: u64, id: &Uuid, fund: &Uuid) -> Result<Account, Rejection> {
        if id.is_nil() {
            return Err(Rejection::InvalidAccount("nil account id"));
        }
        if !self.public && self.pool_ids.contains_key(id) {
            return Err(Rejection::InvalidAccount(
                "this id stands for a fund's vouchers in the public audit",
            ));
        }
        Ok(Account {
            kind: AccountKind::Voucher,
            flags: FLAG_NO_NEGATIVE,
            fund: *fund,
            party: Uuid::nil(),
            status: AccountStatus::Active,
            balance: Cents::ZERO,
            opened_at: index,
        })
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
