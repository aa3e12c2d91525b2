//! Spending: a club redeems a scanned voucher, Leergeld books a direct payment, and a mistaken
//! one is reversed (before it is paid out). Every one is a ledger entry with a receipt.
//! Redemptions need an idempotency key, direct payments take one; a repeat is answered from
//! the ledger, exactly as the first time.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{Conflict, Missing, Rule};
use super::idempotency::{self, Answer};
use super::vouchers::{self, parse_category};
use super::{
    Actor, Error, Input, Result, Services, clean_text, funds, optional_text, positive_amount,
};
use crate::core::accounts::Rejection;
use crate::core::category::Category;
use crate::core::entry::{AccountRef, AccountStatus, Body, Leg, TransferKind};
use crate::core::money::Cents;
use crate::core::proof::TlogProof;
use crate::core::role::Role;
use crate::ledger::{Command, Draft, LedgerError};
use crate::store::Change;
use crate::store::funds::FundRow;
use crate::store::providers::ApprovalRow;
use crate::store::redemptions::{RedemptionRow, SpendKind};

/// A booked redemption or direct payment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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

impl Answer for Redeemed {
    const REBUILT: bool = true;

    async fn rebuild(svc: Services, id: Uuid) -> Result<Option<Self>> {
        recover(&svc, id).await
    }
}

/// A redemption at a club's till.
#[derive(Debug, Clone, Serialize)]
pub struct Redemption {
    /// The scanned KP1 token.
    pub token: String,
    /// Amount in cents.
    pub amount_cents: i64,
    /// Category name.
    pub category: String,
    /// What it is for.
    pub description: Option<String>,
}

/// A direct payment by Leergeld.
#[derive(Debug, Clone)]
pub struct DirectPayment {
    /// The child whose voucher in the fund pays.
    pub child_id: Uuid,
    /// The provider that is paid.
    pub provider_id: Uuid,
    /// Amount in cents.
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
        .store()
        .approval(fund.id, provider)
        .await?
        .ok_or(Error::Rule(Rule::ProviderNotApproved))?;
    if !approval.categories.contains(category) || !fund.categories.contains(category) {
        return Err(Rule::CategoryNotAllowedHere(category).into());
    }
    Ok(approval)
}

fn spend_error(e: LedgerError) -> Error {
    match e {
        LedgerError::Rejected(Rejection::Closed(_)) => Rule::VoucherExpired.into(),
        other => other.into(),
    }
}

/// One spending to book.
struct Booking<'a> {
    id: Uuid,
    kind: SpendKind,
    voucher: Uuid,
    /// The voucher's ledger account.
    account: Uuid,
    fund: Uuid,
    approval: &'a ApprovalRow,
    category: Category,
    amount: Cents,
    description: Option<String>,
    /// How a redemption was authorised (off the ledger): the token's key, generation, digest.
    token_use: Option<Change>,
    user: Uuid,
    /// Another change to commit with the booking (the idempotency key).
    key_row: Option<Change>,
}

async fn book(svc: &Services, b: Booking<'_>) -> Result<Redeemed> {
    let row = RedemptionRow {
        id: b.id,
        kind: b.kind,
        voucher_id: b.voucher,
        provider_id: b.approval.provider_id,
        fund_id: b.fund,
        amount: b.amount,
        category: b.category,
        description: b.description,
        user_id: b.user,
        entry_index: crate::store::EntryIndex(0),
        created_at: svc.now(),
        reversed_at_entry: None,
    };
    let kind = match b.kind {
        SpendKind::Redeem => TransferKind::Redeem,
        SpendKind::DirectPayment => TransferKind::DirectPayment,
    };
    let appended = svc
        .ledger()
        .submit(Command {
            entries: vec![Draft {
                expect: None,
                id: b.id,
                body: Body::Transfer {
                    kind,
                    category: Some(b.category),
                    reference: Uuid::nil(),
                    legs: vec![Leg {
                        debit: AccountRef::Voucher(b.account),
                        credit: AccountRef::Clear(b.approval.account_id),
                        amount: b.amount,
                    }],
                    attachment: Vec::new(),
                },
            }],
            changes: std::iter::once(Change::InsertRedemption(row))
                .chain(b.token_use)
                .chain(b.key_row)
                .collect(),
        })
        .await
        .map_err(spend_error)?;
    let index = funds::first(&appended.indexes)?;
    let receipt = svc
        .ledger()
        .receipt(index, &appended.checkpoint)
        .await?
        .encode();
    let balance = appended
        .balance(&b.account)
        .ok_or_else(|| Error::bug("the redemption did not touch its voucher"))?;
    Ok(Redeemed {
        id: b.id,
        voucher_id: b.voucher,
        amount_cents: b.amount.0,
        category: b.category.as_str().to_owned(),
        balance_cents: balance.0,
        entry_index: index,
        receipt,
    })
}

/// Redeems a scanned token at the caller's club (cashier, provider manager). Needs an
/// idempotency key: a repeat books nothing and gets the same answer, rebuilt from the ledger.
pub async fn redeem(
    svc: &Services,
    actor: &Actor,
    key: Option<&str>,
    input: Input<Redemption>,
) -> Result<Redeemed> {
    let (user, provider) = actor.require_provider(&[Role::Cashier, Role::ProviderManager])?;
    let req = input.read()?;
    let key = idempotency::required_key(key)?;
    let fingerprint = idempotency::fingerprint(&req)?;
    let svc2 = svc.clone();
    idempotency::run(
        svc,
        "redemption",
        user.id,
        Some(key),
        fingerprint,
        move |key_row, id| async move {
            let svc = &svc2;
            let amount = positive_amount(req.amount_cents)?;
            let category = parse_category(&req.category)?;
            let description = optional_text("description", req.description.as_deref(), 200)?;
            let checked =
                vouchers::check_token(svc, &req.token, Some((provider, Rule::ProviderNotApproved)))
                    .await?;
            if !checked.token.categories.contains(category) {
                return Err(Rule::CategoryNotAllowed(category).into());
            }
            let approval = approved(svc, &checked.fund, provider, category).await?;
            if amount > checked.account.balance {
                return Err(Rule::InsufficientBalance.into());
            }
            book(
                svc,
                Booking {
                    id,
                    kind: SpendKind::Redeem,
                    voucher: checked.voucher.id,
                    account: checked.voucher.account_id,
                    fund: checked.fund.id,
                    approval: &approval,
                    category,
                    amount,
                    description,
                    token_use: Some(Change::RecordTokenUse {
                        voucher: checked.voucher.id,
                        key_id: checked.token.key_id.to_vec(),
                        generation: checked.token.generation,
                        digest: checked.token.digest().to_vec(),
                    }),
                    user: user.id,
                    key_row,
                },
            )
            .await
        },
    )
    .await
}

/// Rebuilds the answer of a redemption or direct payment that was committed but whose answer
/// was lost (a crash or an error after the commit): `None` when it is not booked, or no
/// stored checkpoint covers it yet.
pub(in crate::service) async fn recover(svc: &Services, id: Uuid) -> Result<Option<Redeemed>> {
    let Some(r) = svc.store().redemption(id).await? else {
        return Ok(None);
    };
    let index = r.entry_index.0;
    let Some((size, note)) = svc.store().first_checkpoint_covering(index).await? else {
        return Ok(None);
    };
    let receipt = TlogProof {
        extra: None,
        index,
        hashes: svc.ledger().inclusion_proof(index, size).await?,
        checkpoint: note,
    }
    .encode();
    let balance = vouchers::balance_after(svc, r.voucher_id, index).await?;
    Ok(Some(Redeemed {
        id,
        voucher_id: r.voucher_id,
        amount_cents: r.amount.0,
        category: r.category.as_str().to_owned(),
        balance_cents: balance.0,
        entry_index: index,
        receipt,
    }))
}

/// A booked redemption as its club sees it again: the receipt, when and where.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The redemption, with its balance right after it and its proof.
    pub redeemed: Redeemed,
    /// When it was booked.
    pub booked_at: chrono::DateTime<chrono::Utc>,
    /// The club's name.
    pub provider_name: String,
    /// True when it was reversed later.
    pub reversed: bool,
}

/// The receipt of a redemption, for the club that booked it (cashier, provider manager); for
/// anyone else it does not exist.
pub async fn receipt(svc: &Services, actor: &Actor, id: Uuid) -> Result<Receipt> {
    let (_, provider) = actor.require_provider(&[Role::Cashier, Role::ProviderManager])?;
    let row = svc
        .store()
        .redemption(id)
        .await?
        .filter(|r| r.provider_id == provider)
        .ok_or(Error::NotFound(Missing::Redemption))?;
    let redeemed = recover(svc, id)
        .await?
        .ok_or(Error::NotFound(Missing::Redemption))?;
    let provider_name = svc
        .store()
        .provider(provider)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    Ok(Receipt {
        redeemed,
        booked_at: row.created_at,
        provider_name,
        reversed: row.reversed_at_entry.is_some(),
    })
}

/// A redemption in the club's list.
#[derive(Debug, Clone)]
pub struct ClubRedemption {
    /// Id.
    pub id: Uuid,
    /// Amount.
    pub amount_cents: i64,
    /// Category.
    pub category: String,
    /// What it was for.
    pub description: Option<String>,
    /// When.
    pub booked_at: chrono::DateTime<chrono::Utc>,
    /// Its ledger index (the receipt number).
    pub entry_index: u64,
    /// Reversed later.
    pub reversed: bool,
    /// A direct payment by Leergeld rather than a scan at the club.
    pub direct: bool,
}

/// Most redemptions a club's list shows at once.
pub const CLUB_LIST_MAX: i64 = 500;

/// The newest redemptions of the caller's club (a provider manager), newest first. Never
/// another club's.
pub async fn of_my_club(svc: &Services, actor: &Actor) -> Result<Vec<ClubRedemption>> {
    let (_, provider) = actor.require_provider(&[Role::ProviderManager])?;
    let rows = svc
        .store()
        .provider_redemptions(provider, CLUB_LIST_MAX)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| ClubRedemption {
            id: r.id,
            amount_cents: r.amount.0,
            category: r.category.as_str().to_owned(),
            description: r.description,
            booked_at: r.created_at,
            entry_index: r.entry_index.0,
            reversed: r.reversed_at_entry.is_some(),
            direct: r.kind == SpendKind::DirectPayment,
        })
        .collect())
}

/// A direct payment by Leergeld (finance) to a provider, charged to a child's voucher in a
/// fund, with the same rules as a redemption but without a token. With an idempotency key, a
/// repeat books nothing and gets the same answer.
pub async fn direct_payment(
    svc: &Services,
    actor: &Actor,
    fund_id: Uuid,
    key: Option<&str>,
    input: Input<DirectPayment>,
) -> Result<Redeemed> {
    let user = actor.require(&[Role::Finance])?;
    let req = input.read()?;
    let key = idempotency::parse_key(key)?;
    let fingerprint = idempotency::fingerprint(&(
        fund_id,
        req.child_id,
        req.provider_id,
        req.amount_cents,
        &req.category,
        &req.description,
    ))?;
    let svc2 = svc.clone();
    idempotency::run(
        svc,
        "direct-payment",
        user.id,
        key,
        fingerprint,
        move |key_row, id| async move {
            let svc = &svc2;
            let amount = positive_amount(req.amount_cents)?;
            let category = parse_category(&req.category)?;
            let description = optional_text("description", req.description.as_deref(), 200)?;
            let fund = funds::get(svc, fund_id).await?;
            let child = svc
                .store()
                .child(req.child_id)
                .await?
                .ok_or(Error::NotFound(Missing::Child))?;
            svc.store()
                .provider(req.provider_id)
                .await?
                .ok_or(Error::NotFound(Missing::Provider))?;
            let voucher = svc
                .store()
                .voucher_for_child(fund_id, &child)
                .await?
                .ok_or(Error::Rule(Rule::NoVoucher))?;
            if fund.expired_at.is_some() || svc.today() > fund.valid_until {
                return Err(Rule::VoucherExpired.into());
            }
            if svc.today() < fund.valid_from {
                return Err(Rule::VoucherNotYetValid {
                    from: fund.valid_from,
                }
                .into());
            }
            match vouchers::account(svc, &voucher.account_id).await?.status {
                AccountStatus::Blocked => return Err(Rule::VoucherBlocked.into()),
                AccountStatus::Closed => return Err(Rule::VoucherExpired.into()),
                AccountStatus::Active => {}
            }
            let approval = approved(svc, &fund, req.provider_id, category).await?;
            book(
                svc,
                Booking {
                    id,
                    kind: SpendKind::DirectPayment,
                    voucher: voucher.id,
                    account: voucher.account_id,
                    fund: fund_id,
                    approval: &approval,
                    category,
                    amount,
                    description,
                    token_use: None,
                    user: user.id,
                    key_row,
                },
            )
            .await
        },
    )
    .await
}

/// Why a redemption is reversed.
#[derive(Debug, Clone)]
pub struct Reverse {
    /// Reason (kept off the ledger).
    pub reason: String,
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
/// Provider managers may reverse their own provider's; staff any. Another club's redemption
/// does not exist as far as a provider manager can tell.
pub async fn reverse(
    svc: &Services,
    actor: &Actor,
    id: Uuid,
    input: Input<Reverse>,
) -> Result<Reversed> {
    let user = actor.require(&[Role::ProviderManager, Role::Staff])?;
    let req = input.read()?;
    let reason = clean_text("reason", &req.reason, 500, false)?;
    let r = svc
        .store()
        .redemption(id)
        .await?
        .ok_or(Error::NotFound(Missing::Redemption))?;
    let own_provider = user.role == Role::ProviderManager && user.provider == Some(r.provider_id);
    if !own_provider && !actor.acts_as(&[Role::Staff]) {
        return Err(Error::NotFound(Missing::Redemption));
    }
    if r.reversed_at_entry.is_some() {
        return Err(Conflict::AlreadyReversed.into());
    }
    let (legs, category) = match svc.ledger().state().await.reversal_of(&id) {
        Ok(found) => found,
        Err(Rejection::AlreadyReversed(_)) => return Err(Conflict::AlreadyReversed.into()),
        Err(other) => {
            return Err(Error::bug(format!(
                "redemption {id} on the ledger: {other}"
            )));
        }
    };
    let appended = svc
        .ledger()
        .submit(Command {
            entries: vec![Draft::new(Body::Transfer {
                kind: TransferKind::Reverse,
                category,
                reference: id,
                legs,
                attachment: Vec::new(),
            })],
            changes: vec![Change::InsertReversal {
                redemption: id,
                reason,
                user: user.id,
                at: svc.now(),
            }],
        })
        .await
        .map_err(|e| match e {
            LedgerError::Rejected(Rejection::AlreadyReversed(_)) | LedgerError::Conflict => {
                Error::Conflict(Conflict::AlreadyReversed)
            }
            LedgerError::Rejected(Rejection::InsufficientBalance { .. }) => {
                Error::Conflict(Conflict::AlreadyPaidOut)
            }
            other => other.into(),
        })?;
    let index = funds::first(&appended.indexes)?;
    let receipt = svc
        .ledger()
        .receipt(index, &appended.checkpoint)
        .await?
        .encode();
    Ok(Reversed {
        redemption_id: id,
        entry_index: index,
        // After expiry the money went to the fund and the voucher's balance did not change.
        balance_cents: {
            let account = svc
                .store()
                .voucher(r.voucher_id)
                .await?
                .ok_or_else(|| Error::bug("a redemption without its voucher"))?
                .account_id;
            match appended.balance(&account) {
                Some(b) => b.0,
                None => vouchers::account(svc, &account).await?.balance.0,
            }
        },
        receipt,
    })
}
