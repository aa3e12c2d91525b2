//! Spending: a club redeems a scanned voucher, Leergeld books a direct payment, and a mistaken
//! one is reversed (before it is paid out). Every one is a ledger entry with a receipt.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::providers::set_of;
use super::vouchers::{self, parse_category, provider_of};
use super::{Actor, Error, Result, Services, clean_text, positive_amount};
use crate::auth::Role;
use crate::core::category::Category;
use crate::core::entry::{AccountStatus, Body, Leg, TransferKind};
use crate::core::money::Cents;
use crate::ledger::{Command, Draft, LedgerError};
use crate::store::catalog::{self, ApprovalRow, FundRow, RedemptionRow};

/// A booked redemption or direct payment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Redeemed {
    /// Redemption id (also its ledger entry id).
    pub id: Uuid,
    /// Voucher.
    pub voucher_id: Uuid,
    /// Amount.
    pub amount_cents: i64,
    /// Category.
    pub category: String,
    /// Voucher balance right after this redemption.
    pub balance_cents: i64,
    /// Ledger index of the redemption entry.
    pub entry_index: u64,
    /// C2SP tlog-proof for the entry: verifiable offline with the ledger key.
    pub receipt: String,
}

/// Spending request fields shared by redemptions and direct payments.
pub struct Spend {
    /// Amount.
    pub amount_cents: i64,
    /// Category name.
    pub category: String,
    /// What it is for.
    pub description: Option<String>,
}

async fn approved(
    svc: &Services,
    fund: &FundRow,
    provider: Uuid,
    category: Category,
) -> Result<ApprovalRow> {
    let approval = svc
        .store
        .approval(fund.id, provider)
        .await?
        .ok_or_else(|| {
            Error::rule(
                "provider_not_approved",
                "Deze aanbieder is niet aangesloten bij de regeling van deze voucher.",
            )
        })?;
    if !set_of(approval.categories).contains(category)
        || !set_of(fund.categories).contains(category)
    {
        return Err(Error::rule(
            "category_not_allowed",
            format!("Deze voucher mag bij deze aanbieder niet aan '{category}' worden besteed."),
        ));
    }
    Ok(approval)
}

fn spend_error(e: LedgerError) -> Error {
    match e {
        LedgerError::Rejected(r) if r.code() == "insufficient_balance" => Error::rule(
            "insufficient_balance",
            "Er staat niet genoeg tegoed op deze voucher voor dit bedrag.",
        ),
        LedgerError::Rejected(r) if r.code() == "account_closed" => {
            Error::rule("voucher_expired", "Deze voucher is verlopen.")
        }
        other => other.into(),
    }
}

/// One spending to book.
struct Booking<'a> {
    id: Uuid,
    kind: TransferKind,
    voucher: Uuid,
    fund: Uuid,
    approval: &'a ApprovalRow,
    category: Category,
    amount: Cents,
    description: Option<String>,
    attachment: Vec<u8>,
    user: Uuid,
    /// Another row to commit with the booking (the idempotency key).
    extra: Option<crate::store::Write>,
}

async fn book(svc: &Services, b: Booking<'_>) -> Result<Redeemed> {
    let Booking {
        id,
        kind,
        voucher,
        fund,
        approval,
        category,
        amount,
        description,
        attachment,
        user,
        extra,
    } = b;
    let row = RedemptionRow {
        id,
        kind: kind.as_str().to_owned(),
        voucher_id: voucher,
        provider_id: approval.provider_id,
        fund_id: fund,
        amount_cents: amount.0,
        category: category.as_str().to_owned(),
        description,
        user_id: user,
        entry_index: 0,
        created_at: svc.now(),
        reversed_at_entry: None,
    };
    let appended = svc
        .ledger
        .submit(Command {
            entries: vec![Draft {
                id,
                body: Body::Transfer {
                    kind,
                    category: Some(category),
                    reference: Uuid::nil(),
                    legs: vec![Leg {
                        debit: voucher,
                        credit: approval.account_id,
                        amount,
                    }],
                    attachment,
                },
            }],
            writes: std::iter::once(catalog::insert_redemption(&row))
                .chain(extra)
                .collect(),
        })
        .await
        .map_err(spend_error)?;
    let index = appended.indexes[0];
    let receipt = svc
        .ledger
        .receipt(index, &appended.checkpoint)
        .await?
        .encode();
    Ok(Redeemed {
        id,
        voucher_id: voucher,
        amount_cents: amount.0,
        category: category.as_str().to_owned(),
        balance_cents: appended.balance(&voucher).map_or(0, |c| c.0),
        entry_index: index,
        receipt,
    })
}

fn user_of(actor: &Actor) -> Result<Uuid> {
    actor.user_id().ok_or_else(Error::forbidden)
}

/// Redeems a scanned token at the actor's provider. `id` becomes the redemption's id and its
/// ledger entry id (the idempotency layer chooses it before any work).
pub async fn redeem(
    svc: &Services,
    actor: &Actor,
    id: Uuid,
    token: &str,
    spend: Spend,
    key: crate::store::Write,
) -> Result<Redeemed> {
    let provider = provider_of(actor)?;
    let user = user_of(actor)?;
    let amount = positive_amount(spend.amount_cents)?;
    let category = parse_category(&spend.category)?;
    let description = match &spend.description {
        Some(d) => clean_text("description", d, 200, false)?,
        None => None,
    };
    let checked = vouchers::check_token(svc, token).await?;
    if !checked.token.categories.contains(category) {
        return Err(Error::rule(
            "category_not_allowed",
            format!("Deze voucher mag niet aan '{category}' worden besteed."),
        ));
    }
    let approval = approved(svc, &checked.fund, provider, category).await?;
    if amount > checked.account.balance {
        return Err(Error::rule(
            "insufficient_balance",
            "Er staat niet genoeg tegoed op deze voucher voor dit bedrag.",
        ));
    }
    book(
        svc,
        Booking {
            id,
            kind: TransferKind::Redeem,
            voucher: checked.voucher.id,
            fund: checked.fund.id,
            approval: &approval,
            category,
            amount,
            description,
            attachment: checked.token.record().to_bytes().to_vec(),
            user,
            extra: Some(key),
        },
    )
    .await
}

/// Where a redemption chosen at an idempotency claim stands.
pub enum Recovered {
    /// Nothing was booked under this id.
    NotBooked,
    /// Booked, but no stored checkpoint covers it yet, so there is no receipt yet.
    BookedWithoutReceipt,
    /// Booked: the answer as it was (balance right after it, receipt against the first
    /// checkpoint that covered it).
    Booked(Redeemed),
}

/// Rebuilds the answer of a redemption that was committed but whose answer was lost (a crash
/// or an error after the commit).
pub async fn recover(svc: &Services, id: Uuid) -> Result<Recovered> {
    let Some(r) = svc.store.redemption(id).await? else {
        return Ok(Recovered::NotBooked);
    };
    let index = r.entry_index as u64;
    let Some((size, note)) = svc.store.first_checkpoint_covering(index).await? else {
        return Ok(Recovered::BookedWithoutReceipt);
    };
    let receipt = crate::core::proof::TlogProof {
        extra: None,
        index,
        hashes: svc.ledger.inclusion_proof(index, size).await?,
        checkpoint: note,
    }
    .encode();
    let balance = vouchers::balance_after(svc, r.voucher_id, index).await?;
    Ok(Recovered::Booked(Redeemed {
        id,
        voucher_id: r.voucher_id,
        amount_cents: r.amount_cents,
        category: r.category,
        balance_cents: balance.0,
        entry_index: index,
        receipt,
    }))
}

/// A direct payment by Leergeld to a provider, charged to a child's voucher in a fund.
pub async fn direct_payment(
    svc: &Services,
    actor: &Actor,
    fund_id: Uuid,
    child_id: Uuid,
    provider_id: Uuid,
    spend: Spend,
    extra: Option<crate::store::Write>,
) -> Result<Redeemed> {
    let user = user_of(actor)?;
    let amount = positive_amount(spend.amount_cents)?;
    let category = parse_category(&spend.category)?;
    let description = match &spend.description {
        Some(d) => clean_text("description", d, 200, false)?,
        None => None,
    };
    let fund = super::funds::get(svc, fund_id).await?;
    let child = svc
        .store
        .child(child_id)
        .await?
        .ok_or_else(|| Error::not_found("unknown_child", "Dit kind bestaat niet."))?;
    svc.store
        .provider(provider_id)
        .await?
        .ok_or_else(|| Error::not_found("unknown_provider", "Deze aanbieder bestaat niet."))?;
    let voucher = svc
        .store
        .voucher_for_child(fund_id, &child)
        .await?
        .ok_or_else(|| {
            Error::rule(
                "no_voucher",
                "Dit kind heeft in deze regeling (nog) geen voucher.",
            )
        })?;
    if fund.expired_at.is_some() || svc.today() > fund.valid_until {
        return Err(Error::rule("voucher_expired", "Deze voucher is verlopen."));
    }
    if svc.today() < fund.valid_from {
        return Err(Error::rule(
            "voucher_not_yet_valid",
            format!(
                "Deze voucher is geldig vanaf {}.",
                fund.valid_from.format("%d-%m-%Y")
            ),
        ));
    }
    let acc = svc
        .ledger
        .state()
        .await
        .account(&voucher.id)
        .cloned()
        .ok_or_else(|| Error::internal("voucher without a ledger account"))?;
    match acc.status {
        AccountStatus::Blocked => {
            return Err(Error::rule(
                "voucher_blocked",
                "Deze voucher is geblokkeerd.",
            ));
        }
        AccountStatus::Closed => {
            return Err(Error::rule("voucher_expired", "Deze voucher is verlopen."));
        }
        AccountStatus::Active => {}
    }
    let approval = approved(svc, &fund, provider_id, category).await?;
    book(
        svc,
        Booking {
            id: Uuid::now_v7(),
            kind: TransferKind::DirectPayment,
            voucher: voucher.id,
            fund: fund_id,
            approval: &approval,
            category,
            amount,
            description,
            attachment: Vec::new(),
            user,
            extra,
        },
    )
    .await
}

/// A reversal.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reversed {
    /// The reversed redemption.
    pub redemption_id: Uuid,
    /// Ledger index of the reversal entry.
    pub entry_index: u64,
    /// Voucher balance after the reversal.
    pub balance_cents: i64,
    /// C2SP tlog-proof for the reversal entry.
    pub receipt: String,
}

/// Reverses a redemption or direct payment, at most once and only before it is paid out.
/// Provider managers may reverse their own provider's; staff any.
pub async fn reverse(svc: &Services, actor: &Actor, id: Uuid, reason: &str) -> Result<Reversed> {
    let user = user_of(actor)?;
    let reason = clean_text("reason", reason, 500, false)?;
    let not_found = || Error::not_found("unknown_redemption", "Deze betaling bestaat niet.");
    let r = svc.store.redemption(id).await?.ok_or_else(not_found)?;
    let own_provider =
        actor.is(&[Role::ProviderManager]) && actor.provider() == Some(r.provider_id);
    if !own_provider && !actor.is(&[Role::Staff]) {
        // Another club's redemption does not exist as far as this user can tell.
        return Err(not_found());
    }
    if r.reversed_at_entry.is_some() {
        return Err(Error::conflict(
            "already_reversed",
            "Deze betaling is al teruggedraaid.",
        ));
    }
    let approval = svc
        .store
        .approval(r.fund_id, r.provider_id)
        .await?
        .ok_or_else(|| Error::internal("redemption without approval"))?;
    let category = parse_category(&r.category)?;
    // After the fund expired the voucher is closed: the money goes back to the fund instead.
    let voucher_closed = svc
        .ledger
        .state()
        .await
        .account(&r.voucher_id)
        .is_some_and(|a| a.status == AccountStatus::Closed);
    let credit = if voucher_closed {
        r.fund_id
    } else {
        r.voucher_id
    };
    let appended = svc
        .ledger
        .submit(Command {
            entries: vec![Draft::new(Body::Transfer {
                kind: TransferKind::Reverse,
                category: Some(category),
                reference: id,
                legs: vec![Leg {
                    debit: approval.account_id,
                    credit,
                    amount: Cents(r.amount_cents),
                }],
                attachment: Vec::new(),
            })],
            writes: vec![catalog::insert_reversal(id, reason, user, svc.now())],
        })
        .await
        .map_err(|e| match e {
            LedgerError::Rejected(rej) if rej.code() == "already_reversed" => {
                Error::conflict("already_reversed", "Deze betaling is al teruggedraaid.")
            }
            LedgerError::Conflict => {
                Error::conflict("already_reversed", "Deze betaling is al teruggedraaid.")
            }
            LedgerError::Rejected(rej) if rej.code() == "insufficient_balance" => Error::conflict(
                "already_paid_out",
                "Deze betaling is al uitbetaald en kan niet meer worden teruggedraaid.",
            ),
            other => other.into(),
        })?;
    let index = appended.indexes[0];
    let receipt = svc
        .ledger
        .receipt(index, &appended.checkpoint)
        .await?
        .encode();
    Ok(Reversed {
        redemption_id: id,
        entry_index: index,
        balance_cents: appended.balance(&r.voucher_id).map_or(0, |c| c.0),
        receipt,
    })
}
