//! Issuing a voucher: move the budget from the fund to a new voucher account (the issue opens
//! it), sign its token.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::common::sign_token;
use crate::core::accounts::Rejection;
use crate::core::entry::{AccountRef, Body, Leg, MAX_LEGS, TransferKind};
use crate::core::money::Cents;
use crate::core::role::Role;
use crate::core::voucher::Pooling;
use crate::ledger::{Command, Draft, LedgerError};
use crate::service::error::{Conflict, Invalid, Missing, Rule};
use crate::service::idempotency::{self, Answer};
use crate::service::random::{pack_evenly, shuffle};
use crate::service::{Actor, Error, Input, Result, Services, funds, households, positive_amount};
use crate::store::Change;
use crate::store::funds::FundRow;
use crate::store::vouchers::VoucherRow;

/// What to issue.
#[derive(Debug, Clone, Copy)]
pub enum IssueFor {
    /// One child's voucher (funds pooled per child).
    Child(Uuid),
    /// One household's voucher (funds pooled per household).
    Household(Uuid),
}

/// An issue request: the target (`child_id` or `household_id`) and another amount than the
/// fund's standard, if any.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The child (funds per child).
    pub child_id: Option<Uuid>,
    /// The household (funds per household).
    pub household_id: Option<Uuid>,
    /// Another amount, in cents.
    pub amount_cents: Option<i64>,
}

/// A voucher as issued.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Issued {
    /// Voucher id.
    pub id: Uuid,
    /// The KP1 token (also in the QR code).
    pub token: String,
    /// Balance.
    pub balance_cents: i64,
    /// Last day it can be spent.
    pub expires_at: NaiveDate,
    /// Categories it can be spent on.
    pub categories: Vec<String>,
    /// The household's personal link for the parent's page.
    pub parent_link: Option<String>,
    /// Fund.
    pub fund_id: Uuid,
    /// Household.
    pub household_id: Uuid,
    /// Child (absent for household vouchers).
    pub child_id: Option<Uuid>,
    /// Ledger index of the issue entry.
    pub entry_index: u64,
}

impl Answer for Issued {
    const REBUILT: bool = true;

    /// A voucher id is in its token: random, so that it tells nothing about when it was issued.
    fn new_id() -> Uuid {
        Uuid::new_v4()
    }

    async fn rebuild(svc: Services, id: Uuid) -> Result<Option<Self>> {
        rebuilt(&svc, id).await
    }
}

/// Issues a voucher (staff). With an idempotency key, a repeat issues nothing and gets the
/// voucher as it was issued (with its current token and parent link).
pub async fn issue(
    svc: &Services,
    actor: &Actor,
    fund_id: Uuid,
    key: Option<&str>,
    input: Input<IssueRequest>,
) -> Result<Issued> {
    let user = actor.require(&[Role::Staff])?;
    let req = input.read()?;
    let key = idempotency::parse_key(key)?;
    let fingerprint =
        idempotency::fingerprint(&(fund_id, req.child_id, req.household_id, req.amount_cents))?;
    let svc2 = svc.clone();
    idempotency::run(
        svc,
        "issue",
        user.id,
        key,
        fingerprint,
        move |key_row, id| async move { issue_once(&svc2, fund_id, req, id, key_row).await },
    )
    .await
}

async fn issue_once(
    svc: &Services,
    fund_id: Uuid,
    req: IssueRequest,
    id: Uuid,
    key_row: Option<Change>,
) -> Result<Issued> {
    let fund = funds::get(svc, fund_id).await?;
    funds::ensure_open(svc, &fund)?;
    let prepared = prepare(svc, &fund, &req, id).await?;
    book(svc, &fund, vec![prepared], key_row)
        .await?
        .pop()
        .ok_or_else(|| Error::bug("an issue booked nothing"))
}

/// A voucher ready to be booked: its row, its answer (without its entry index yet) and the
/// legs that fund it.
#[derive(Clone)]
struct Prepared {
    row: VoucherRow,
    issued: Issued,
    legs: Vec<Leg>,
    amount: Cents,
}

/// Checks who a voucher is for, works out its amount and legs, and signs its token; books
/// nothing.
async fn prepare(svc: &Services, fund: &FundRow, req: &IssueRequest, id: Uuid) -> Result<Prepared> {
    let fund_id = fund.id;
    let target = match (req.child_id, req.household_id) {
        (Some(c), None) => IssueFor::Child(c),
        (None, Some(h)) => IssueFor::Household(h),
        _ => return Err(Invalid::ChildOrHousehold.into()),
    };
    let period = fund.period();
    let (household_id, child_id, eligible_children) = match (target, fund.pooling) {
        (IssueFor::Child(child_id), Pooling::Child) => {
            let child = svc
                .store()
                .child(child_id)
                .await?
                .ok_or(Error::NotFound(Missing::Child))?;
            let Some(birth) = child.birth_date else {
                return Err(Rule::ChildErased.into());
            };
            if !period.eligible(birth) {
                return Err(Rule::ChildNotEligible {
                    max_age: fund.max_age_years,
                }
                .into());
            }
            (child.household_id, Some(child_id), 1)
        }
        (IssueFor::Household(household_id), Pooling::Household) => {
            households::get(svc, household_id).await?;
            let children = svc.store().children(household_id).await?;
            let n = children
                .iter()
                .filter(|c| c.birth_date.is_some_and(|b| period.eligible(b)))
                .count();
            if n == 0 {
                return Err(Rule::NoChildEligible {
                    max_age: fund.max_age_years,
                }
                .into());
            }
            let n = i64::try_from(n).map_err(Error::internal)?;
            (household_id, None, n)
        }
        (IssueFor::Child(_), Pooling::Household) => {
            return Err(Invalid::HouseholdIdRequired.into());
        }
        (IssueFor::Household(_), Pooling::Child) => return Err(Invalid::ChildIdRequired.into()),
    };
    let amount = match req.amount_cents {
        Some(a) => positive_amount(a)?,
        None => Cents(
            fund.amount_per_child
                .0
                .checked_mul(eligible_children)
                .ok_or(Error::Invalid(Invalid::AmountTooLarge))?,
        ),
    };
    let household = households::get(svc, household_id).await?;
    let expiry = period
        .token_expiry()
        .ok_or(Error::Invalid(Invalid::PeriodTooLong))?;
    let (token, token_key_id) = sign_token(svc, id, expiry, fund.categories, 0).await?;
    // The ledger account is random and unrelated to the id in the token.
    let account = Uuid::new_v4();
    let row = VoucherRow {
        id,
        account_id: account,
        fund_id,
        household_id,
        child_id,
        token_key_id,
        expires_at: expiry,
        generation: 0,
    };
    let legs = issue_legs(fund_id, account, amount, eligible_children)?;
    Ok(Prepared {
        row,
        issued: Issued {
            id,
            token,
            balance_cents: amount.0,
            expires_at: fund.valid_until,
            categories: fund.categories.names(),
            parent_link: households::parent_link(svc, &household),
            fund_id,
            household_id,
            child_id,
            entry_index: 0,
        },
        legs,
        amount,
    })
}

/// Books vouchers in one `issue` entry, which opens their accounts: each voucher's legs in
/// shuffled order among the others', so that the public cannot tell which legs belong together
/// (a household's pooled voucher has a leg per child). No other entry belongs to a new voucher.
async fn book(
    svc: &Services,
    fund: &FundRow,
    batch: Vec<Prepared>,
    key_row: Option<Change>,
) -> Result<Vec<Issued>> {
    let pooled = fund.pooling == Pooling::Household;
    let mut legs: Vec<Leg> = batch.iter().flat_map(|p| p.legs.iter().cloned()).collect();
    shuffle(&mut legs)?;
    let at = svc.now();
    let changes: Vec<Change> = std::iter::once(Change::FundStillOpen { id: fund.id })
        .chain(batch.iter().map(|p| Change::InsertVoucher {
            voucher: p.row.clone(),
            at,
        }))
        .chain(key_row)
        .collect();
    let appended = svc
        .ledger()
        .submit(Command {
            entries: vec![Draft::new(Body::Transfer {
                kind: TransferKind::Issue,
                category: None,
                reference: Uuid::nil(),
                legs,
                attachment: Vec::new(),
            })],
            changes,
        })
        .await
        .map_err(|e| match e {
            LedgerError::Conflict => Error::Conflict(Conflict::AlreadyIssued { pooled }),
            LedgerError::Rejected(Rejection::InsufficientBalance { .. }) => {
                Rule::InsufficientFundBalance.into()
            }
            other => other.into(),
        })?;
    let entry_index = appended
        .indexes
        .first()
        .copied()
        .ok_or_else(|| Error::bug("the issue entry is missing"))?;
    Ok(batch
        .into_iter()
        .map(|p| Issued {
            entry_index,
            ..p.issued
        })
        .collect())
}

/// The legs of an issue: one per child the voucher is for, each to its own fresh commitment
/// of the voucher's account, so that the public cannot read a family's size from one amount.
/// The amount is split evenly; the first legs take the cents that do not divide.
fn issue_legs(fund: Uuid, account: Uuid, amount: Cents, children: i64) -> Result<Vec<Leg>> {
    let n = children.clamp(1, crate::core::entry::MAX_LEGS as i64);
    let (each, rest) = (amount.0 / n, amount.0 % n);
    Ok((0..n)
        .map(|i| Cents(each + i64::from(i < rest)))
        .filter(|a| a.is_positive())
        .map(|a| Leg {
            debit: AccountRef::Clear(fund),
            credit: AccountRef::Voucher(account),
            amount: a,
        })
        .collect())
}

/// The answer of an issue, rebuilt from the voucher, its ledger account and its issue entry.
async fn rebuilt(svc: &Services, id: Uuid) -> Result<Option<Issued>> {
    let Some(v) = svc.store().voucher(id).await? else {
        return Ok(None);
    };
    let fund = funds::get(svc, v.fund_id).await?;
    let household = households::get(svc, v.household_id).await?;
    // The voucher's first entry is its issue, which opened its account.
    let index = svc
        .ledger()
        .state()
        .await
        .history(&v.account_id)
        .first()
        .copied()
        .ok_or_else(|| Error::bug(format!("voucher {id} has no issue entry")))?;
    let row = svc
        .store()
        .entries_at(&[index])
        .await?
        .pop()
        .ok_or_else(|| Error::bug(format!("entry {index} is missing")))?;
    let entry = row.decode().map_err(Error::bug)?;
    let amount = match &entry.entry.body {
        Body::Transfer {
            kind: TransferKind::Issue,
            legs,
            ..
        } => legs
            .iter()
            .filter(|l| l.credit.account() == Some(v.account_id))
            .map(|l| l.amount.0)
            .sum::<i64>(),
        _ => {
            return Err(Error::bug(format!(
                "entry {index} is not voucher {id}'s issue"
            )));
        }
    };
    Ok(Some(Issued {
        id,
        token: super::common::token_of(svc, &v).await?,
        balance_cents: amount,
        expires_at: fund.valid_until,
        categories: fund.categories.names(),
        parent_link: households::parent_link(svc, &household),
        fund_id: v.fund_id,
        household_id: v.household_id,
        child_id: v.child_id,
        entry_index: index,
    }))
}

/// What issuing for a whole fund did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueSummary {
    /// New vouchers.
    pub issued: usize,
    /// Children (or households) that already had one in this fund.
    pub already: usize,
    /// Too old or not yet born on the fund's first day, or no eligible child in the household.
    pub not_eligible: usize,
    /// Left without one because the fund's money ran out.
    pub no_money: usize,
    /// Anything else, with the household's reference and the reason (Dutch).
    pub failed: Vec<(String, String)>,
    /// Not tried yet: the run stopped at its time budget (well inside the request deadline);
    /// running it again goes on where it stopped.
    pub remaining: usize,
}

/// Issues a voucher to every eligible child (or household, for a fund pooled per household)
/// of every current household that has none in the fund yet (staff). Each is booked as on its
/// own; a repeat issues only what is still missing. Stops early when the fund's money runs
/// out, and says how many are left without.
pub async fn issue_all(svc: &Services, actor: &Actor, fund_id: Uuid) -> Result<IssueSummary> {
    actor.require(&[Role::Staff])?;
    // Whole-fund runs take turns (one writer serves the ledger): a second press waits and then
    // finds the vouchers issued, instead of racing the first into refused shared entries.
    static ONE_AT_A_TIME: std::sync::LazyLock<tokio::sync::Mutex<()>> =
        std::sync::LazyLock::new(|| tokio::sync::Mutex::new(()));
    // The time budget counts the wait too, so the answer comes well inside the deadline.
    let started = std::time::Instant::now();
    let _turn = ONE_AT_A_TIME.lock().await;
    let fund = funds::get(svc, fund_id).await?;
    funds::ensure_open(svc, &fund)?;
    let mut out = IssueSummary::default();
    let households = svc.store().current_households().await?;
    let mut targets: Vec<(String, IssueRequest)> = Vec::new();
    for h in &households {
        let reference = h.reference.clone().unwrap_or_default();
        match fund.pooling {
            Pooling::Household => {
                if svc
                    .store()
                    .household_vouchers(h.id)
                    .await?
                    .iter()
                    .any(|v| v.fund_id == fund.id)
                {
                    out.already += 1;
                } else {
                    targets.push((
                        reference,
                        IssueRequest {
                            child_id: None,
                            household_id: Some(h.id),
                            amount_cents: None,
                        },
                    ));
                }
            }
            Pooling::Child => {
                for c in svc.store().children(h.id).await? {
                    if svc.store().voucher_for_child(fund.id, &c).await?.is_some() {
                        out.already += 1;
                        continue;
                    }
                    targets.push((
                        reference.clone(),
                        IssueRequest {
                            child_id: Some(c.id),
                            household_id: None,
                            amount_cents: None,
                        },
                    ));
                }
            }
        }
    }
    // In random order, and booked together in shared entries: neither the order of the
    // entries nor which legs share one tells the public who are siblings or how many
    // children a household has.
    shuffle(&mut targets)?;
    let total = targets.len();
    let budget = svc.settings().bulk_reissue_budget;
    let mut left = funds::ledger_account(svc, &fund_id).await?.balance;
    let mut ready: Vec<(String, Prepared)> = Vec::new();
    for (done, (reference, req)) in targets.into_iter().enumerate() {
        if done > 0 && started.elapsed() >= budget {
            out.remaining = total - done;
            break;
        }
        let prepared = match prepare(svc, &fund, &req, Uuid::new_v4()).await {
            Ok(p) => p,
            Err(Error::Rule(Rule::ChildNotEligible { .. } | Rule::NoChildEligible { .. })) => {
                out.not_eligible += 1;
                continue;
            }
            Err(e @ (Error::Rule(_) | Error::Invalid(_) | Error::Conflict(_))) => {
                out.failed.push((reference, e.message().into_owned()));
                continue;
            }
            Err(e) => return Err(e),
        };
        if prepared.amount > left {
            out.no_money = total - done;
            break;
        }
        left = Cents(left.0 - prepared.amount.0);
        ready.push((reference, prepared));
    }
    // As few shared entries as hold their legs, filled evenly, so that no entry holds one
    // household alone when there are more.
    for batch in pack_evenly(ready, |(_, p)| p.legs.len(), MAX_LEGS) {
        book_batch(svc, &fund, batch, &mut out).await?;
    }
    tracing::info!(fund = %fund_id, issued = out.issued, already = out.already,
        not_eligible = out.not_eligible, no_money = out.no_money, failed = out.failed.len(),
        remaining = out.remaining,
        "vouchers issued for a whole fund");
    Ok(out)
}

/// Books a batch of a whole-fund issue in one entry; if that is refused (a voucher issued
/// meanwhile by someone else, the fund's money spent meanwhile), books each on its own to say
/// which.
async fn book_batch(
    svc: &Services,
    fund: &FundRow,
    batch: Vec<(String, Prepared)>,
    out: &mut IssueSummary,
) -> Result<()> {
    let mut batch = batch;
    for attempt in 0..2 {
        if batch.is_empty() {
            return Ok(());
        }
        let prepared: Vec<Prepared> = batch.iter().map(|(_, p)| p.clone()).collect();
        match book(svc, fund, prepared, None).await {
            Ok(issued) => {
                out.issued += issued.len();
                return Ok(());
            }
            // The fund's money was spent meanwhile: keep what still fits, together.
            Err(Error::Rule(Rule::InsufficientFundBalance)) if attempt == 0 => {
                let mut left = funds::ledger_account(svc, &fund.id).await?.balance.0;
                let mut rest = Vec::with_capacity(batch.len());
                for (reference, p) in batch {
                    if p.amount.0 <= left {
                        left -= p.amount.0;
                        rest.push((reference, p));
                    } else {
                        out.no_money += 1;
                    }
                }
                batch = rest;
            }
            // Someone issued one of these meanwhile (a single issue; whole-fund runs take
            // turns): leave those out and book the rest together once more.
            Err(Error::Conflict(_) | Error::Rule(_)) if attempt == 0 => {
                let mut rest = Vec::with_capacity(batch.len());
                for (reference, p) in batch {
                    if has_voucher(svc, fund, &p.row).await? {
                        out.already += 1;
                    } else {
                        rest.push((reference, p));
                    }
                }
                batch = rest;
            }
            Err(Error::Conflict(_) | Error::Rule(_)) => break,
            Err(e) => return Err(e),
        }
    }
    // Still refused (the fund's money spent meanwhile): each on its own, to say which.
    for (reference, p) in batch {
        match book(svc, fund, vec![p], None).await {
            Ok(_) => out.issued += 1,
            Err(Error::Conflict(Conflict::AlreadyIssued { .. })) => out.already += 1,
            Err(Error::Rule(Rule::InsufficientFundBalance)) => out.no_money += 1,
            Err(e @ (Error::Rule(_) | Error::Invalid(_) | Error::Conflict(_))) => {
                out.failed.push((reference, e.message().into_owned()));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether the child or household a prepared voucher is for has one in the fund by now.
async fn has_voucher(svc: &Services, fund: &FundRow, row: &VoucherRow) -> Result<bool> {
    Ok(match row.child_id {
        Some(child) => match svc.store().child(child).await? {
            Some(c) => svc.store().voucher_for_child(fund.id, &c).await?.is_some(),
            None => false,
        },
        None => svc
            .store()
            .household_vouchers(row.household_id)
            .await?
            .iter()
            .any(|v| v.fund_id == fund.id),
    })
}
