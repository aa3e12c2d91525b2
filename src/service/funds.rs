//! Funds (regelingen): creation, sponsor deposits, approving providers, and expiry at the end
//! of the period, which returns every remaining cent to the fund.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{Conflict, Invalid, Missing, Rule};
use super::idempotency::{self, Answer};
use super::random::{pack_evenly, shuffle};
use super::{Actor, Error, Input, Result, Services, positive_amount, required_text};
use crate::core::accounts::{Account, Rejection};
use crate::core::category::CategorySet;
use crate::core::entry::{
    AccountKind, AccountRef, AccountStatus, Body, FLAG_NO_NEGATIVE, Leg, MAX_LEGS, TransferKind,
};
use crate::core::money::Cents;
use crate::core::role::Role;
use crate::core::voucher::{Period, Pooling};
use crate::ledger::{Command, Draft, LedgerError};
use crate::store::Change;
pub use crate::store::funds::FundRow;
pub use crate::store::providers::ApprovalRow;

/// Oldest age a fund may allow.
pub const MAX_AGE_LIMIT: i64 = 30;
/// Largest budget per child (€ 100.000,00), a guard against typing errors.
pub const MAX_PER_CHILD_CENTS: i64 = 10_000_000;

/// A new fund.
#[derive(Debug, Clone)]
pub struct NewFund {
    /// Name.
    pub name: String,
    /// Sponsor.
    pub sponsor: String,
    /// First day.
    pub valid_from: NaiveDate,
    /// Last day.
    pub valid_until: NaiveDate,
    /// Category names.
    pub categories: Vec<String>,
    /// Budget per child, in cents.
    pub amount_per_child_cents: i64,
    /// Oldest eligible age on the first day (default 17).
    pub max_age_years: Option<i64>,
    /// `child` (default) or `household`.
    pub pooling: Option<String>,
}

/// A fund with its current balance.
pub struct FundView {
    /// The stored fund.
    pub fund: FundRow,
    /// What is in the fund account (not yet given to vouchers).
    pub balance: Cents,
}

/// The account of something the ledger must know (a fund, a voucher): its absence means the
/// database and the ledger disagree, which is our fault and never reads as a zero balance.
pub(in crate::service) async fn ledger_account(svc: &Services, id: &Uuid) -> Result<Account> {
    svc.ledger()
        .state()
        .await
        .account(id)
        .copied()
        .ok_or_else(|| Error::bug(format!("no ledger account {id}")))
}

/// The external (sponsor) account opened at genesis.
async fn external_account(svc: &Services) -> Result<Uuid> {
    let state = svc.ledger().state().await;
    state
        .accounts()
        .filter(|(_, a)| a.kind == AccountKind::External)
        .min_by_key(|(_, a)| a.opened_at)
        .map(|(id, _)| *id)
        .ok_or_else(|| Error::bug("the ledger has no external account"))
}

/// Loads a fund or answers 404.
pub(in crate::service) async fn get(svc: &Services, id: Uuid) -> Result<FundRow> {
    svc.store()
        .fund(id)
        .await?
        .ok_or(Error::NotFound(Missing::Fund))
}

/// A fund and its balance (Leergeld and auditors).
pub async fn view(svc: &Services, actor: &Actor, id: Uuid) -> Result<FundView> {
    actor.require(&[Role::Staff, Role::Finance, Role::Auditor])?;
    let fund = get(svc, id).await?;
    let balance = ledger_account(svc, &fund.id).await?.balance;
    Ok(FundView { fund, balance })
}

/// Refuses work on a fund that has ended.
pub(in crate::service) fn ensure_open(svc: &Services, fund: &FundRow) -> Result<()> {
    if fund.expired_at.is_some() || svc.today() > fund.valid_until {
        return Err(Rule::FundExpired.into());
    }
    Ok(())
}

/// Creates a fund and opens its ledger account (admin). Returns the fund and the index of
/// the opening entry.
pub async fn create(
    svc: &Services,
    actor: &Actor,
    input: Input<NewFund>,
) -> Result<(FundRow, u64)> {
    actor.require(&[Role::Admin])?;
    let req = input.read()?;
    let name = required_text("name", &req.name, 200)?;
    let sponsor = required_text("sponsor", &req.sponsor, 200)?;
    if req.valid_until < req.valid_from {
        return Err(Invalid::PeriodReversed.into());
    }
    let categories = CategorySet::parse_names(&req.categories)
        .map_err(|e| Error::Invalid(Invalid::Categories(e)))?;
    if !(1..=MAX_PER_CHILD_CENTS).contains(&req.amount_per_child_cents) {
        return Err(Invalid::AmountPerChild.into());
    }
    let max_age_years = req.max_age_years.unwrap_or(17);
    if !(0..=MAX_AGE_LIMIT).contains(&max_age_years) {
        return Err(Invalid::MaxAge.into());
    }
    let pooling = match req.pooling.as_deref() {
        None => Pooling::Child,
        Some(p) => Pooling::parse(p).ok_or(Error::Invalid(Invalid::Pooling))?,
    };
    // Tokens carry their expiry as 32-bit seconds: refuse periods they cannot express.
    let period = Period {
        valid_from: req.valid_from,
        valid_until: req.valid_until,
        max_age_years,
    };
    period
        .token_expiry()
        .ok_or(Error::Invalid(Invalid::PeriodTooLong))?;
    let fund = FundRow {
        id: Uuid::new_v4(),
        name,
        sponsor,
        valid_from: req.valid_from,
        valid_until: req.valid_until,
        categories,
        amount_per_child: Cents(req.amount_per_child_cents),
        max_age_years,
        pooling,
        expired_at: None,
    };
    let appended = svc
        .ledger()
        .submit(Command {
            entries: vec![Draft::new(Body::OpenAccount {
                account: AccountRef::Clear(fund.id),
                kind: AccountKind::Fund,
                flags: FLAG_NO_NEGATIVE,
                fund: Uuid::nil(),
                party: Uuid::nil(),
            })],
            changes: vec![Change::InsertFund {
                fund: fund.clone(),
                at: svc.now(),
            }],
        })
        .await?;
    let index = first(&appended.indexes)?;
    Ok((fund, index))
}

/// The first entry's index of a committed command.
pub(in crate::service) fn first(indexes: &[u64]) -> Result<u64> {
    indexes
        .first()
        .copied()
        .ok_or_else(|| Error::bug("a committed command without entries"))
}

/// Money from the sponsor into a fund.
#[derive(Debug, Clone, Serialize)]
pub struct Deposit {
    /// Amount in cents.
    pub amount_cents: i64,
    /// Reference, e.g. the grant decision (kept off the ledger).
    pub reference: String,
}

/// A booked deposit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Deposited {
    /// Ledger index of the deposit entry.
    pub entry_index: u64,
    /// Fund balance after the deposit.
    pub fund_balance_cents: i64,
}

impl Answer for Deposited {}

/// Books money from the sponsor into the fund (admin, finance). With an idempotency key, a
/// repeat books nothing and gets the same answer.
pub async fn deposit(
    svc: &Services,
    actor: &Actor,
    fund_id: Uuid,
    key: Option<&str>,
    input: Input<Deposit>,
) -> Result<Deposited> {
    let user = actor.require(&[Role::Admin, Role::Finance])?;
    let req = input.read()?;
    let key = idempotency::parse_key(key)?;
    let fingerprint = idempotency::fingerprint(&(fund_id, &req.amount_cents, &req.reference))?;
    let svc2 = svc.clone();
    idempotency::run(
        svc,
        "deposit",
        user.id,
        key,
        fingerprint,
        move |key_row, _| async move {
            let amount = positive_amount(req.amount_cents)?;
            let limit = svc2.settings().max_deposit;
            if amount > limit {
                return Err(Rule::AmountAboveLimit { limit }.into());
            }
            let reference = required_text("reference", &req.reference, 200)?;
            let fund = get(&svc2, fund_id).await?;
            if fund.expired_at.is_some() {
                return Err(Rule::FundExpired.into());
            }
            let external = external_account(&svc2).await?;
            let appended = svc2
                .ledger()
                .submit(Command {
                    entries: vec![Draft::new(Body::Transfer {
                        kind: TransferKind::Deposit,
                        category: None,
                        reference: Uuid::nil(),
                        legs: vec![Leg::clear(external, fund.id, amount)],
                        attachment: Vec::new(),
                    })],
                    changes: std::iter::once(Change::InsertNote {
                        entry: 0,
                        note: Some(reference),
                        user: Some(user.id),
                        at: svc2.now(),
                    })
                    .chain(key_row)
                    .collect(),
                })
                .await?;
            let balance = appended
                .balance(&fund.id)
                .ok_or_else(|| Error::bug("the deposit did not touch its fund"))?;
            Ok(Deposited {
                entry_index: first(&appended.indexes)?,
                fund_balance_cents: balance.0,
            })
        },
    )
    .await
}

/// A refusal of a booking that takes money out of a fund: a short balance is the fund's.
pub(in crate::service) fn fund_debit_error(e: LedgerError) -> Error {
    match e {
        LedgerError::Rejected(Rejection::InsufficientBalance { .. }) => {
            Rule::InsufficientFundBalance.into()
        }
        other => Error::from(other),
    }
}

/// A correction of a deposit booked in error.
#[derive(Debug, Clone)]
pub struct DepositCorrection {
    /// Ledger index of the deposit that was wrong.
    pub deposit_entry_index: u64,
    /// How much goes back to the sponsor.
    pub amount_cents: i64,
    /// Why (kept off the ledger).
    pub reason: String,
}

/// Takes back (part of) a deposit booked in error (admin, finance): money goes from the fund
/// back to the sponsor's account, as a new ledger entry that refers to the deposit. Never more
/// than that deposit brought into this fund (all its corrections together), and never more
/// than the fund still holds (money given to vouchers stays there).
pub async fn correct_deposit(
    svc: &Services,
    actor: &Actor,
    fund_id: Uuid,
    key: Option<&str>,
    input: Input<DepositCorrection>,
) -> Result<Deposited> {
    let user = actor.require(&[Role::Admin, Role::Finance])?;
    let req = input.read()?;
    let key = idempotency::parse_key(key)?;
    let fingerprint = idempotency::fingerprint(&(
        fund_id,
        &req.deposit_entry_index,
        &req.amount_cents,
        &req.reason,
    ))?;
    let svc2 = svc.clone();
    idempotency::run(
        svc,
        "deposit_correction",
        user.id,
        key,
        fingerprint,
        move |key_row, _| async move {
            let amount = positive_amount(req.amount_cents)?;
            let reason = required_text("reason", &req.reason, 500)?;
            let fund = get(&svc2, fund_id).await?;
            if fund.expired_at.is_some() {
                return Err(Rule::FundExpired.into());
            }
            let index = req.deposit_entry_index;
            // The deposit must be a deposit into this fund.
            let deposit = {
                let size = svc2.ledger().state().await.size();
                if index >= size {
                    return Err(Missing::Deposit.into());
                }
                let row = svc2
                    .store()
                    .entries_at(&[index])
                    .await?
                    .pop()
                    .ok_or(Error::NotFound(Missing::Deposit))?;
                row.decode().map_err(Error::bug)?
            };
            let external = match &deposit.entry.body {
                Body::Transfer {
                    kind: TransferKind::Deposit,
                    legs,
                    ..
                } => legs
                    .iter()
                    .find(|l| l.credit.clear() == Some(fund.id))
                    .and_then(|l| l.debit.clear())
                    .ok_or(Error::NotFound(Missing::Deposit))?,
                _ => return Err(Missing::Deposit.into()),
            };
            let appended = svc2
                .ledger()
                .submit(Command {
                    entries: vec![Draft::new(Body::Transfer {
                        kind: TransferKind::DepositCorrection,
                        category: None,
                        reference: deposit.entry.id,
                        legs: vec![Leg::clear(fund.id, external, amount)],
                        attachment: Vec::new(),
                    })],
                    changes: std::iter::once(Change::InsertNote {
                        entry: 0,
                        note: Some(reason),
                        user: Some(user.id),
                        at: svc2.now(),
                    })
                    .chain(key_row)
                    .collect(),
                })
                .await
                .map_err(fund_debit_error)?;
            let balance = appended
                .balance(&fund.id)
                .ok_or_else(|| Error::bug("the correction did not touch its fund"))?;
            Ok(Deposited {
                entry_index: first(&appended.indexes)?,
                fund_balance_cents: balance.0,
            })
        },
    )
    .await
}

/// Approves a provider for a fund and categories (admin); the first approval opens the
/// provider's ledger account for the fund, a later one replaces the categories.
pub async fn approve_provider(
    svc: &Services,
    actor: &Actor,
    fund_id: Uuid,
    provider_id: Uuid,
    categories: Input<Vec<String>>,
) -> Result<ApprovalRow> {
    actor.require(&[Role::Admin])?;
    let categories = categories.read()?;
    let fund = get(svc, fund_id).await?;
    let provider = svc
        .store()
        .provider(provider_id)
        .await?
        .ok_or(Error::NotFound(Missing::Provider))?;
    let wanted = CategorySet::parse_names(&categories)
        .map_err(|e| Error::Invalid(Invalid::Categories(e)))?;
    if let Some(c) = wanted.iter().find(|c| !fund.categories.contains(*c)) {
        return Err(Rule::CategoryNotInFund(c).into());
    }
    if let Some(c) = wanted.iter().find(|c| !provider.categories.contains(*c)) {
        return Err(Rule::CategoryNotOffered(c).into());
    }
    let now = svc.now();
    let update = Change::UpdateApproval {
        fund: fund_id,
        provider: provider_id,
        categories: wanted,
        at: now,
    };
    if let Some(existing) = svc.store().approval(fund_id, provider_id).await? {
        svc.store().apply(std::slice::from_ref(&update)).await?;
        return Ok(ApprovalRow {
            categories: wanted,
            ..existing
        });
    }
    let row = ApprovalRow {
        fund_id,
        provider_id,
        account_id: Uuid::new_v4(),
        categories: wanted,
    };
    let result = svc
        .ledger()
        .submit(Command {
            entries: vec![Draft::new(Body::OpenAccount {
                account: AccountRef::Clear(row.account_id),
                kind: AccountKind::Provider,
                flags: FLAG_NO_NEGATIVE,
                fund: fund_id,
                party: provider_id,
            })],
            changes: vec![Change::InsertApproval {
                approval: row.clone(),
                at: now,
            }],
        })
        .await;
    match result {
        Ok(_) => Ok(row),
        // Approved at the same moment by someone else: their account stands.
        Err(LedgerError::Conflict) => {
            svc.store().apply(&[update]).await?;
            let existing = svc.store().approval(fund_id, provider_id).await?;
            existing.ok_or_else(|| Error::bug("approval vanished"))
        }
        Err(e) => Err(e.into()),
    }
}

/// What expiry did.
#[derive(Debug, Clone, Copy)]
pub struct Expired {
    /// Vouchers closed.
    pub vouchers: usize,
    /// Cents returned to the fund.
    pub returned: Cents,
}

/// Ends a fund (admin): every voucher's remaining balance goes back to the fund and every
/// voucher is closed, all in one command.
pub async fn expire(svc: &Services, actor: &Actor, fund_id: Uuid) -> Result<Expired> {
    let user = actor.require(&[Role::Admin])?;
    // Balances and vouchers read here can change before the command is applied (a redemption
    // or an issue at the same moment); the command is then refused as a whole and we read
    // again.
    let mut attempts = 0;
    loop {
        match expire_once(svc, user.id, fund_id).await {
            Err(Error::Rule(_) | Error::Conflict(Conflict::Changed)) if attempts < 3 => {
                attempts += 1
            }
            other => return other,
        }
    }
}

/// A voucher's remaining balance as expiry legs: pieces of at most the fund's per-child amount
/// (the last one smaller), so that a household voucher's balance does not show for how many
/// children it was; at most [`MAX_LEGS`] pieces.
fn expiry_pieces(balance: Cents, per_child: Cents) -> Vec<Cents> {
    let max_legs = MAX_LEGS as i64;
    let piece = per_child
        .0
        .max(1)
        .max(balance.0 / max_legs + i64::from(balance.0 % max_legs != 0));
    let mut left = balance.0;
    let mut out = Vec::new();
    while left > 0 {
        let a = left.min(piece);
        out.push(Cents(a));
        left -= a;
    }
    out
}

async fn expire_once(svc: &Services, user: Uuid, fund_id: Uuid) -> Result<Expired> {
    let fund = get(svc, fund_id).await?;
    if fund.expired_at.is_some() {
        return Err(Conflict::AlreadyExpired.into());
    }
    let ids = svc.store().fund_voucher_accounts(fund_id).await?;
    let (groups, to_close, returned) = {
        let state = svc.ledger().state().await;
        let mut groups: Vec<Vec<Leg>> = Vec::new();
        let mut to_close = Vec::new();
        let mut returned = Cents::ZERO;
        for id in &ids {
            let acc = state
                .account(id)
                .ok_or_else(|| Error::bug(format!("voucher {id} has no ledger account")))?;
            if acc.status == AccountStatus::Closed {
                continue;
            }
            if acc.balance.is_positive() {
                groups.push(
                    expiry_pieces(acc.balance, fund.amount_per_child)
                        .into_iter()
                        .map(|amount| Leg {
                            debit: AccountRef::Voucher(*id),
                            credit: AccountRef::Clear(fund_id),
                            amount,
                        })
                        .collect(),
                );
                returned = returned
                    .checked_add(acc.balance)
                    .ok_or_else(|| Error::bug("returned amounts overflow"))?;
            }
            to_close.push(*id);
        }
        (groups, to_close, returned)
    };
    // Each voucher's legs stay in one entry (an expiry empties each voucher it debits); within
    // an entry all legs are shuffled, so which legs were one voucher's is not public.
    let batches = pack_evenly(groups, Vec::len, MAX_LEGS);
    let mut entries: Vec<Draft> = Vec::with_capacity(batches.len() + to_close.len());
    for batch in batches {
        let mut legs: Vec<Leg> = batch.into_iter().flatten().collect();
        shuffle(&mut legs)?;
        entries.push(Draft::new(Body::Transfer {
            kind: TransferKind::Expire,
            category: None,
            reference: Uuid::nil(),
            legs,
            attachment: Vec::new(),
        }));
    }
    entries.extend(to_close.iter().map(|id| {
        Draft::new(Body::AccountState {
            account: AccountRef::Voucher(*id),
            status: AccountStatus::Closed,
        })
    }));
    let now = svc.now();
    let mut changes = vec![Change::ExpireFund {
        id: fund_id,
        vouchers: ids.len(),
        at: now,
    }];
    if !entries.is_empty() {
        changes.push(Change::InsertNote {
            entry: 0,
            note: Some("regeling afgesloten".into()),
            user: Some(user),
            at: now,
        });
    }
    svc.ledger().submit(Command { entries, changes }).await?;
    Ok(Expired {
        vouchers: to_close.len(),
        returned,
    })
}

/// Every fund with its balance (Leergeld and auditors), the newest period first.
pub async fn list(svc: &Services, actor: &Actor) -> Result<Vec<FundView>> {
    actor.require(&[Role::Staff, Role::Finance, Role::Auditor])?;
    let funds = svc.store().funds().await?;
    let state = svc.ledger().state().await;
    Ok(funds
        .into_iter()
        .map(|fund| {
            let balance = state
                .account(&fund.id)
                .map(|a| a.balance)
                .unwrap_or(Cents(0));
            FundView { fund, balance }
        })
        .collect())
}

/// A fund's figures for its page.
#[derive(Debug, Clone)]
pub struct FundTotals {
    /// In the fund, not yet given to vouchers.
    pub in_fund: Cents,
    /// Vouchers issued.
    pub vouchers: usize,
    /// Still on those vouchers.
    pub on_vouchers: Cents,
}

/// The figures of a fund (Leergeld and auditors).
pub async fn totals(svc: &Services, actor: &Actor, id: Uuid) -> Result<FundTotals> {
    actor.require(&[Role::Staff, Role::Finance, Role::Auditor])?;
    let fund = get(svc, id).await?;
    let ids = svc.store().fund_voucher_accounts(fund.id).await?;
    let state = svc.ledger().state().await;
    let in_fund = state
        .account(&fund.id)
        .map(|a| a.balance)
        .unwrap_or(Cents(0));
    let on_vouchers = ids
        .iter()
        .filter_map(|v| state.account(v))
        .try_fold(Cents(0), |sum, a| sum.checked_add(a.balance))
        .ok_or_else(|| Error::bug("voucher balances overflow"))?;
    Ok(FundTotals {
        in_fund,
        vouchers: ids.len(),
        on_vouchers,
    })
}

/// The providers approved for a fund, with their approval (Leergeld and auditors).
pub async fn approvals(
    svc: &Services,
    actor: &Actor,
    id: Uuid,
) -> Result<Vec<(crate::store::providers::ProviderRow, ApprovalRow)>> {
    actor.require(&[Role::Staff, Role::Finance, Role::Auditor])?;
    get(svc, id).await?;
    let mut out = Vec::new();
    for a in svc.store().approvals_of(id).await? {
        if let Some(p) = svc.store().provider(a.provider_id).await? {
            out.push((p, a));
        }
    }
    out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    Ok(out)
}

/// Next year's fund made from this year's.
#[derive(Debug, Clone)]
pub struct NextYear {
    /// Name of the new fund.
    pub name: String,
    /// Its first day.
    pub valid_from: NaiveDate,
    /// Its last day.
    pub valid_until: NaiveDate,
    /// The providers whose approval carries over (with the same categories).
    pub providers: Vec<Uuid>,
}

/// The same period one year later (29 February becomes 28 February).
pub fn one_year_later(d: NaiveDate) -> Option<NaiveDate> {
    d.with_year(d.year() + 1)
        .or_else(|| NaiveDate::from_ymd_opt(d.year() + 1, d.month(), 28))
}

/// The name of next year's fund: the year in the name counted up, else the new year added.
pub fn next_name(name: &str, year: i32) -> String {
    let this = (year - 1).to_string();
    if name.contains(&this) {
        name.replacen(&this, &year.to_string(), 1)
    } else {
        format!("{name} {year}")
    }
}

/// Creates next year's fund from a fund (admin): same sponsor, categories, amount per child,
/// age limit and pooling, the given name and period, and the approvals of the chosen providers
/// carried over with their categories. Returns the new fund.
pub async fn next_year(
    svc: &Services,
    actor: &Actor,
    from: Uuid,
    input: Input<NextYear>,
) -> Result<FundRow> {
    actor.require(&[Role::Admin])?;
    let req = input.read()?;
    let old = get(svc, from).await?;
    // The form sent twice (a reload, a double click) makes no second fund.
    let wanted = req.name.trim().to_lowercase();
    if svc
        .store()
        .funds()
        .await?
        .iter()
        .any(|f| f.name.trim().to_lowercase() == wanted)
    {
        return Err(Conflict::FundNameTaken.into());
    }
    let approvals = svc.store().approvals_of(from).await?;
    let (new, _) = create(
        svc,
        actor,
        Input::new(NewFund {
            name: req.name,
            sponsor: old.sponsor.clone(),
            valid_from: req.valid_from,
            valid_until: req.valid_until,
            categories: old.categories.names(),
            amount_per_child_cents: old.amount_per_child.0,
            max_age_years: Some(old.max_age_years),
            pooling: Some(old.pooling.as_str().to_owned()),
        }),
    )
    .await?;
    for a in approvals
        .iter()
        .filter(|a| req.providers.contains(&a.provider_id))
    {
        approve_provider(
            svc,
            actor,
            new.id,
            a.provider_id,
            Input::new(a.categories.names()),
        )
        .await?;
    }
    tracing::info!(from = %from, fund = %new.id, "next year's fund made");
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_pieces_are_at_most_the_per_child_amount_and_add_up() {
        let p = |b, c| {
            expiry_pieces(Cents(b), Cents(c))
                .into_iter()
                .map(|x| x.0)
                .collect::<Vec<_>>()
        };
        assert_eq!(p(30_000, 10_000), vec![10_000, 10_000, 10_000]);
        assert_eq!(p(25_001, 10_000), vec![10_000, 10_000, 5_001]);
        assert_eq!(p(1, 10_000), vec![1]);
        assert_eq!(p(0, 10_000), Vec::<i64>::new());
        // Never more legs than an entry holds: larger pieces instead.
        let big = p(10_000_000, 100);
        assert!(big.len() <= MAX_LEGS && big.iter().sum::<i64>() == 10_000_000);
        assert_eq!(p(5, 0), vec![1; 5]);
    }
}
