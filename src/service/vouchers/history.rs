//! A voucher with its balance and history, its current token (for the QR code), and its
//! balance right after one of its entries (to answer a repeated redemption as it was).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::core::entry::{AccountKind, AccountStatus, Body};
use crate::core::money::Cents;
use crate::core::role::Role;
use crate::core::voucher::Status;
use crate::service::error::Missing;
use crate::service::{Actor, Error, Result, Services, funds};
use crate::store::vouchers::VoucherRow;

/// One line of a voucher's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    /// Ledger index.
    pub entry_index: u64,
    /// RFC 3339.
    pub time: String,
    /// `issue`, `top_up`, `redeem`, `direct_payment`, `reverse`, `expire`, `blocked`,
    /// `reissued` (the only way back to active), `closed`.
    pub kind: String,
    /// Change of the balance (negative when spent).
    pub amount_cents: i64,
    /// Category, for spending.
    pub category: Option<String>,
    /// Where it was spent.
    pub provider: Option<String>,
    /// What it was for (as the club entered it).
    pub description: Option<String>,
    /// For staff: the reason or reference noted with the entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A voucher with its balance and history.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoucherView {
    /// Id.
    pub id: Uuid,
    /// Fund.
    pub fund_id: Uuid,
    /// Fund name.
    pub fund_name: String,
    /// Balance.
    pub balance_cents: i64,
    /// `active`, `blocked`, `expired`, `not_yet_valid` or `closed`.
    pub status: String,
    /// First day it can be spent.
    pub valid_from: NaiveDate,
    /// Last day it can be spent.
    pub expires_at: NaiveDate,
    /// Categories.
    pub categories: Vec<String>,
    /// Child's first name (absent for household vouchers or after erasure).
    pub child_first_name: Option<String>,
    /// Household.
    pub household_id: Uuid,
    /// Child.
    pub child_id: Option<Uuid>,
    /// Token generation (bumped by reissue).
    pub generation: u8,
    /// Everything that happened to it, oldest first.
    pub history: Vec<HistoryItem>,
}

/// Loads a voucher the actor may see: staff and auditors see every voucher, a parent link
/// only its own household's (another household's does not exist for it).
async fn visible(svc: &Services, actor: &Actor, id: Uuid) -> Result<VoucherRow> {
    let parent = match actor {
        Actor::Parent { household } => Some(*household),
        _ => {
            actor.require(&[Role::Staff, Role::Auditor])?;
            None
        }
    };
    let v = super::common::get(svc, id).await?;
    if parent.is_some_and(|h| h != v.household_id) {
        return Err(Error::NotFound(Missing::Voucher));
    }
    Ok(v)
}

/// A voucher with balance and history (staff, auditors, or the household's link). Reads a
/// fixed number of queries however long the history is.
pub async fn view(svc: &Services, actor: &Actor, id: Uuid) -> Result<VoucherView> {
    let v = visible(svc, actor, id).await?;
    let fund = funds::get(svc, v.fund_id).await?;
    let account = v.account_id;
    let (acc, indexes) = {
        let state = svc.ledger().state().await;
        let acc = state
            .account(&account)
            .copied()
            .ok_or_else(|| Error::bug(format!("voucher {id} has no ledger account")))?;
        (acc, state.history(&account).to_vec())
    };
    let entries = svc
        .store()
        .entries_at(&indexes)
        .await?
        .into_iter()
        .map(|row| row.decode().map_err(Error::bug))
        .collect::<Result<Vec<_>>>()?;
    // The provider accounts this voucher's transfers touched, to name the provider.
    let provider_accounts: Vec<Uuid> = {
        let state = svc.ledger().state().await;
        entries
            .iter()
            .filter_map(|e| match &e.entry.body {
                Body::Transfer { legs, .. } => Some(legs),
                _ => None,
            })
            .flatten()
            .flat_map(|l| [l.debit.clear(), l.credit.clear()])
            .flatten()
            .filter(|a| {
                state
                    .account(a)
                    .is_some_and(|acc| acc.kind == AccountKind::Provider)
            })
            .collect()
    };
    let names = svc
        .store()
        .provider_names_by_account(&provider_accounts)
        .await?;
    let child = match v.child_id {
        Some(c) => svc.store().child(c).await?,
        None => None,
    };
    let descriptions: HashMap<u64, Option<String>> = svc
        .store()
        .voucher_redemptions(id)
        .await?
        .into_iter()
        .map(|r| (r.entry_index.0, r.description))
        .collect();
    let staff = actor.acts_as(&[Role::Staff, Role::Auditor]);
    let mut notes = if staff {
        svc.store().entry_notes(&indexes).await?
    } else {
        HashMap::new()
    };
    let mut history = Vec::with_capacity(entries.len());
    for e in entries {
        let idx = e.entry.index;
        let time = i64::try_from(e.entry.time_ms)
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let (kind, amount, category, provider) = match &e.entry.body {
            Body::OpenAccount { .. } | Body::Genesis { .. } | Body::KeyEvent { .. } => continue,
            Body::AccountState { status, .. } => {
                // A voucher only becomes active again by a reissue (with a new token).
                let k = match status {
                    AccountStatus::Blocked => "blocked",
                    AccountStatus::Closed => "closed",
                    AccountStatus::Active => "reissued",
                };
                (k.to_owned(), 0, None, None)
            }
            Body::Transfer {
                kind,
                category,
                legs,
                ..
            } => {
                let mut delta: i64 = 0;
                let mut provider = None;
                for l in legs {
                    if l.credit.account() == Some(account) {
                        delta = delta
                            .checked_add(l.amount.0)
                            .ok_or_else(|| Error::bug("balance overflow"))?;
                    }
                    if l.debit.account() == Some(account) {
                        delta = delta
                            .checked_sub(l.amount.0)
                            .ok_or_else(|| Error::bug("balance overflow"))?;
                    }
                    for other in [l.debit.clear(), l.credit.clear()].into_iter().flatten() {
                        if let Some(name) = names.get(&other) {
                            provider = Some(name.clone());
                        }
                    }
                }
                (
                    kind.as_str().to_owned(),
                    delta,
                    category.map(|c| c.as_str().to_owned()),
                    provider,
                )
            }
        };
        history.push(HistoryItem {
            entry_index: idx,
            time,
            kind,
            amount_cents: amount,
            category,
            provider,
            description: descriptions.get(&idx).cloned().flatten(),
            note: notes.remove(&idx),
        });
    }
    let status = Status::of(
        acc.status,
        fund.expired_at.is_some(),
        &fund.period(),
        svc.today(),
    );
    Ok(VoucherView {
        id,
        fund_id: v.fund_id,
        fund_name: fund.name.clone(),
        balance_cents: acc.balance.0,
        status: status.as_str().to_owned(),
        valid_from: fund.valid_from,
        expires_at: fund.valid_until,
        categories: fund.categories.names(),
        child_first_name: child.and_then(|c| c.first_name),
        household_id: v.household_id,
        child_id: v.child_id,
        generation: v.generation,
        history,
    })
}

/// A voucher's balance right after ledger entry `index`, replayed from its own entries (read
/// in one query).
pub(in crate::service) async fn balance_after(
    svc: &Services,
    voucher: Uuid,
    index: u64,
) -> Result<Cents> {
    let voucher = svc
        .store()
        .voucher(voucher)
        .await?
        .ok_or(Error::NotFound(Missing::Voucher))?
        .account_id;
    let indexes: Vec<u64> = {
        let state = svc.ledger().state().await;
        if state.account(&voucher).is_none() {
            return Err(Error::bug(format!(
                "voucher {voucher} has no ledger account"
            )));
        }
        state
            .history(&voucher)
            .iter()
            .copied()
            .filter(|i| *i <= index)
            .collect()
    };
    let mut balance: i64 = 0;
    for row in svc.store().entries_at(&indexes).await? {
        let e = row.decode().map_err(Error::bug)?;
        if let Body::Transfer { legs, .. } = &e.entry.body {
            for l in legs {
                if l.credit.account() == Some(voucher) {
                    balance = balance
                        .checked_add(l.amount.0)
                        .ok_or_else(|| Error::bug("balance overflow"))?;
                }
                if l.debit.account() == Some(voucher) {
                    balance = balance
                        .checked_sub(l.amount.0)
                        .ok_or_else(|| Error::bug("balance overflow"))?;
                }
            }
        }
    }
    Ok(Cents(balance))
}

/// The current token of a voucher (for the QR code): staff, or the household's link. Not an
/// auditor: a token spends money.
pub async fn current_token(svc: &Services, actor: &Actor, id: Uuid) -> Result<String> {
    if !matches!(actor, Actor::Parent { .. }) {
        actor.require(&[Role::Staff])?;
    }
    let v = visible(svc, actor, id).await?;
    super::common::token_of(svc, &v).await
}
