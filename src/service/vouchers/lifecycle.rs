//! A voucher's life after issue: extra budget (top-up), blocking a lost letter, and reissuing
//! it with a new token generation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::common::{account, ensure_not_closed, get, sign_token};
use crate::core::entry::{AccountRef, AccountStatus, Body, KeyPurpose, Leg, TransferKind};
use crate::core::role::Role;
use crate::ledger::{Command, Draft, Expect};
use crate::service::error::{Conflict, Missing, Rule};
use crate::service::idempotency::{self, Answer};
use crate::service::{Actor, Error, Input, Result, Services, clean_text, funds, positive_amount};
use crate::store::Change;

/// Extra budget for a voucher.
#[derive(Debug, Clone, Serialize)]
pub struct TopUp {
    /// Amount in cents.
    pub amount_cents: i64,
    /// Why (kept off the ledger).
    pub reason: String,
}

/// A booked top-up.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ToppedUp {
    /// Ledger index.
    pub entry_index: u64,
    /// Voucher balance after.
    pub balance_cents: i64,
    /// Fund balance after.
    pub fund_balance_cents: i64,
}

impl Answer for ToppedUp {}

/// Moves extra budget from the fund onto a voucher (staff, finance). With an idempotency key,
/// a repeat books nothing and gets the same answer.
pub async fn top_up(
    svc: &Services,
    actor: &Actor,
    id: Uuid,
    key: Option<&str>,
    input: Input<TopUp>,
) -> Result<ToppedUp> {
    let user = actor.require(&[Role::Staff, Role::Finance])?;
    let req = input.read()?;
    let key = idempotency::parse_key(key)?;
    let fingerprint = idempotency::fingerprint(&(id, &req.amount_cents, &req.reason))?;
    let svc2 = svc.clone();
    idempotency::run(
        svc,
        "top-up",
        user.id,
        key,
        fingerprint,
        move |key_row, _| async move {
            let svc = &svc2;
            let amount = positive_amount(req.amount_cents)?;
            let limit = svc.settings().max_top_up;
            if amount > limit {
                return Err(Rule::AmountAboveLimit { limit }.into());
            }
            let reason = clean_text("reason", &req.reason, 500, false)?;
            let v = get(svc, id).await?;
            let fund = funds::get(svc, v.fund_id).await?;
            funds::ensure_open(svc, &fund)?;
            ensure_not_closed(&account(svc, &v.account_id).await?)?;
            let appended = svc
                .ledger()
                .submit(Command {
                    entries: vec![Draft::new(Body::Transfer {
                        kind: TransferKind::TopUp,
                        category: None,
                        reference: Uuid::nil(),
                        legs: vec![Leg {
                            debit: AccountRef::Clear(v.fund_id),
                            credit: AccountRef::Voucher(v.account_id),
                            amount,
                        }],
                        attachment: Vec::new(),
                    })],
                    changes: std::iter::once(Change::InsertNote {
                        entry: 0,
                        note: reason,
                        user: Some(user.id),
                        at: svc.now(),
                    })
                    .chain(key_row)
                    .collect(),
                })
                .await
                .map_err(funds::fund_debit_error)?;
            let balance = |a| {
                appended
                    .balance(a)
                    .ok_or_else(|| Error::bug("the top-up did not touch its accounts"))
            };
            Ok(ToppedUp {
                entry_index: funds::first(&appended.indexes)?,
                balance_cents: balance(&v.account_id)?.0,
                fund_balance_cents: balance(&v.fund_id)?.0,
            })
        },
    )
    .await
}

/// Why a voucher is blocked.
#[derive(Debug, Clone)]
pub struct Block {
    /// Reason (kept off the ledger).
    pub reason: String,
}

/// Blocks a voucher (staff): its current token stops working at once; the balance stays.
/// Returns the index of the ledger entry.
pub async fn block(svc: &Services, actor: &Actor, id: Uuid, input: Input<Block>) -> Result<u64> {
    let user = actor.require(&[Role::Staff])?;
    let req = input.read()?;
    let reason = clean_text("reason", &req.reason, 500, false)?;
    let v = get(svc, id).await?;
    let acc = account(svc, &v.account_id).await?;
    ensure_not_closed(&acc)?;
    if acc.status == AccountStatus::Blocked {
        return Err(Conflict::AlreadyBlocked.into());
    }
    let appended = svc
        .ledger()
        .submit(Command {
            // Written only if nothing changed the voucher since it was read (a reissue that
            // came first answers voucher_changed, instead of a block that is lost).
            entries: vec![Draft::expecting(
                Body::AccountState {
                    account: AccountRef::Voucher(v.account_id),
                    status: AccountStatus::Blocked,
                },
                Expect {
                    account: v.account_id,
                    status: acc.status,
                },
            )],
            changes: vec![
                Change::VoucherGenerationIs {
                    voucher: id,
                    generation: v.generation,
                },
                Change::InsertNote {
                    entry: 0,
                    note: reason,
                    user: Some(user.id),
                    at: svc.now(),
                },
            ],
        })
        .await?;
    funds::first(&appended.indexes)
}

/// A reissued voucher.
#[derive(Debug, Clone)]
pub struct Reissued {
    /// The new token (the old one no longer works).
    pub token: String,
    /// The new generation.
    pub generation: u8,
    /// Ledger index.
    pub entry_index: u64,
}

/// Reissues a voucher (staff): a new token generation (the old printout stops working), same
/// balance, unblocked.
pub async fn reissue(svc: &Services, actor: &Actor, id: Uuid) -> Result<Reissued> {
    reissue_as(svc, actor, id, None).await
}

/// A reissue: a new token generation, and the voucher active afterwards. With `from_key` (a
/// bulk reissue away from that key), only while that key signs the voucher's token
/// (`Conflict::VoucherChanged` otherwise: it was reissued meanwhile) and while the voucher is
/// not blocked (`Rule::VoucherBlocked`: a bulk reissue must not undo what Leergeld blocked, and
/// unblocking is itself a reissue that gives it a new token). Either way the change is refused
/// when another reissue changed the key between reading and writing, so two reissues cannot
/// both hand out a letter.
async fn reissue_as(
    svc: &Services,
    actor: &Actor,
    id: Uuid,
    from_key: Option<&[u8]>,
) -> Result<Reissued> {
    let user = actor.require(&[Role::Staff])?;
    let v = get(svc, id).await?;
    if from_key.is_some_and(|k| k != v.token_key_id.as_slice()) {
        return Err(Conflict::VoucherChanged.into());
    }
    let fund = funds::get(svc, v.fund_id).await?;
    let acc = account(svc, &v.account_id).await?;
    ensure_not_closed(&acc)?;
    if from_key.is_some() && acc.status == AccountStatus::Blocked {
        return Err(Rule::VoucherBlocked.into());
    }
    let status = AccountStatus::Active;
    let generation = v
        .generation
        .checked_add(1)
        .ok_or(Error::Rule(Rule::TooManyReissues))?;
    let (token, key_id) = sign_token(svc, id, v.expires_at, fund.categories, generation).await?;
    let appended = svc
        .ledger()
        .submit(Command {
            // Refused when a block or another reissue came between reading and writing.
            entries: vec![Draft::expecting(
                Body::AccountState {
                    account: AccountRef::Voucher(v.account_id),
                    status,
                },
                Expect {
                    account: v.account_id,
                    status: acc.status,
                },
            )],
            changes: vec![
                Change::UpdateTokenKey {
                    voucher: id,
                    key_id,
                    from_key_id: v.token_key_id,
                    generation,
                    user: Some(user.id),
                    at: svc.now(),
                },
                Change::InsertNote {
                    entry: 0,
                    note: Some("opnieuw uitgegeven".into()),
                    user: Some(user.id),
                    at: svc.now(),
                },
            ],
        })
        .await?;
    Ok(Reissued {
        token,
        generation,
        entry_index: funds::first(&appended.indexes)?,
    })
}

/// What one bulk-reissue run did.
#[derive(Debug, Clone)]
pub struct BulkReissued {
    /// The vouchers that got a new token in this run (each needs a new letter), with their
    /// households.
    pub reissued: Vec<(Uuid, Uuid)>,
    /// Vouchers of that key left alone: closed or past their expiry (no new letter needed),
    /// blocked (no letter while blocked; unblocking reissues it with a new token), or reissued
    /// meanwhile by another run or by hand (already in [`reissued_from_key`]).
    pub skipped: usize,
    /// Vouchers that could not be reissued, with the code of the reason (for example
    /// `too_many_reissues`); the run went on with the others.
    pub failed: Vec<(Uuid, String)>,
    /// Open vouchers of that key not reached in this run (its time was up): run it again. The
    /// vouchers in `failed` are tried again by the next run too.
    pub remaining: usize,
}

/// Reissues every open voucher whose token a voucher key signs (staff): after a rotation,
/// before the old key's last day, or at once after a revocation; never for the active key
/// that is not revoked (`key_still_active`: that would only void every letter in circulation).
/// Each gets a new token generation signed by the active key; the old printouts stop working;
/// a blocked voucher is left as it is (it gets a new token when it is unblocked, which is a
/// reissue). One run works for at most
/// [`Settings::bulk_reissue_budget`](crate::service::Settings) (at least one voucher) and says
/// how many are left; running it again goes on where it stopped, and [`reissued_from_key`]
/// lists every voucher reissued away from the key over all runs, so no household that needs a
/// new letter is lost when a run stops part-way. A voucher that cannot be reissued (a rule or
/// a conflict) is reported and the run goes on; a fault of the database stops the run (what it
/// did so far is recorded).
pub async fn reissue_all(
    svc: &Services,
    actor: &Actor,
    key_id: Input<String>,
) -> Result<BulkReissued> {
    actor.require(&[Role::Staff])?;
    let id = key_id_of(key_id)?;
    let (known, active) = {
        let state = svc.ledger().state().await;
        (
            state.keys(KeyPurpose::Voucher).contains_key(&id),
            state.active_key(KeyPurpose::Voucher).map(|(k, _)| k),
        )
    };
    if !known {
        return Err(Error::NotFound(Missing::VoucherKey));
    }
    let revoked = svc
        .store()
        .voucher_key_status(&id)
        .await?
        .is_some_and(|s| s.revoked_at.is_some());
    if active == Some(id) && !revoked {
        return Err(Rule::KeyStillActive.into());
    }
    let started = std::time::Instant::now();
    let budget = svc.settings().bulk_reissue_budget;
    // Well inside the request deadline (30 s by default), so the caller always gets the report.
    let cap = budget.saturating_mul(10).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(20),
    );
    let signed = svc.store().vouchers_signed_by(&id).await?;
    // Closed, expired or blocked vouchers get no new letter now: left out before the run
    // starts, so they never take its time (run after run).
    let now = u32::try_from(svc.now().timestamp()).unwrap_or(u32::MAX);
    let (vouchers, expired): (Vec<_>, Vec<_>) = {
        let state = svc.ledger().state().await;
        signed.into_iter().partition(|v| {
            v.expires_at > now
                && state
                    .account(&v.account_id)
                    .is_some_and(|a| a.status == AccountStatus::Active)
        })
    };
    let total = vouchers.len();
    let mut out = BulkReissued {
        reissued: Vec::new(),
        skipped: expired.len(),
        failed: Vec::new(),
        remaining: 0,
    };
    for (done, v) in vouchers.into_iter().enumerate() {
        // At least one voucher reissued per run (if any can be), so every run makes progress
        // even behind vouchers that fail every time or that another run took.
        // Without any success it still stops at ten times its time (every voucher failing).
        if (!out.reissued.is_empty() && started.elapsed() >= budget)
            || (done > 0 && started.elapsed() >= cap)
        {
            out.remaining = total - done;
            break;
        }
        match reissue_as(svc, actor, v.id, Some(&id)).await {
            Ok(_) => out.reissued.push((v.id, v.household_id)),
            // Expired or blocked meanwhile, or reissued by another run or by hand meanwhile.
            Err(
                Error::Rule(Rule::VoucherExpired | Rule::VoucherBlocked)
                | Error::Conflict(Conflict::VoucherChanged),
            ) => {
                out.skipped += 1;
            }
            Err(e @ (Error::Rule(_) | Error::Conflict(_) | Error::NotFound(_))) => {
                tracing::warn!(voucher = %v.id, error = %e, "bulk reissue: voucher left as it was");
                out.failed.push((v.id, e.code().to_owned()));
            }
            Err(e) => {
                tracing::warn!(key = %crate::core::hash::hex(&id), reissued = out.reissued.len(), error = %e, "bulk reissue stopped");
                return Err(e);
            }
        }
    }
    tracing::info!(key = %crate::core::hash::hex(&id), reissued = out.reissued.len(), skipped = out.skipped, failed = out.failed.len(), remaining = out.remaining, "vouchers reissued in bulk");
    Ok(out)
}

/// A voucher reissued away from a key: its old letter no longer works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReissuedVoucher {
    /// The voucher.
    pub id: Uuid,
    /// Its household (who needs the new letter).
    pub household_id: Uuid,
    /// The generation of its new token.
    pub generation: u8,
    /// When it was reissued.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Every voucher reissued away from a voucher key, by any run of the bulk reissue or one by
/// one (staff): the households that need a new letter.
pub async fn reissued_from_key(
    svc: &Services,
    actor: &Actor,
    key_id: Input<String>,
) -> Result<Vec<ReissuedVoucher>> {
    actor.require(&[Role::Staff])?;
    let id = key_id_of(key_id)?;
    if !svc
        .ledger()
        .state()
        .await
        .keys(KeyPurpose::Voucher)
        .contains_key(&id)
    {
        return Err(Error::NotFound(Missing::VoucherKey));
    }
    Ok(svc
        .store()
        .reissued_from_key(&id)
        .await?
        .into_iter()
        .map(|r| ReissuedVoucher {
            id: r.voucher_id,
            household_id: r.household_id,
            generation: r.generation,
            at: r.at,
        })
        .collect())
}

fn key_id_of(key_id: Input<String>) -> Result<[u8; 4]> {
    let key_id = key_id.read()?;
    crate::core::token::parse_key_id(&key_id)
        .ok_or(Error::Invalid(crate::service::error::Invalid::KeyId))
}
