//! Vouchers: issuing (a ledger account funded from the fund, with a signed KP1 token), viewing
//! with history, top-up, block and reissue, and checking a scanned token.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::funds::{self, ensure_open};
use super::households::parent_link;
use super::providers::{category_names, set_of};
use super::{Actor, Error, Kind, Result, Services, clean_text, positive_amount};
use crate::auth::Role;
use crate::core::accounts::Account;
use crate::core::category::{Category, CategorySet};
use crate::core::entry::{
    AccountKind, AccountStatus, Body, FLAG_NO_NEGATIVE, Leg, SignedEntry, TransferKind,
};
use crate::core::money::Cents;
use crate::core::token::{TokenError, VoucherToken};
use crate::ledger::{Command, Draft};
use crate::store::catalog::{self, ChildRow, FundRow, VoucherRow};

/// What to issue.
pub enum IssueFor {
    /// One child's voucher (funds pooled per child).
    Child(Uuid),
    /// One household's voucher (funds pooled per household).
    Household(Uuid),
}

/// A voucher as issued.
#[derive(Debug, Serialize, ToSchema)]
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

/// Whole years between two dates.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> i64 {
    let mut years = i64::from(day.year() - birth.year());
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

/// Unix seconds at which a token for a fund stops working: 00:00 Dutch time on the day after
/// the last valid day.
pub fn token_expiry(fund: &FundRow) -> Result<u32> {
    let end = fund
        .valid_until
        .succ_opt()
        .and_then(crate::core::time::dutch_midnight)
        .ok_or_else(|| Error::bad("invalid_period", "Deze einddatum is te ver weg."))?;
    u32::try_from(end).map_err(|_| Error::bad("invalid_period", "Deze einddatum is te ver weg."))
}

fn eligible(fund: &FundRow, child: &ChildRow) -> bool {
    child
        .birth_date
        .is_some_and(|b| b <= fund.valid_from && age_on(b, fund.valid_from) <= fund.max_age_years)
        // A child born during the fund's period is eligible too.
        || child.birth_date.is_some_and(|b| b > fund.valid_from && b <= fund.valid_until)
}

async fn sign_token(
    svc: &Services,
    voucher: Uuid,
    expiry: u32,
    cats: CategorySet,
    generation: u8,
) -> Result<String> {
    let (_, key) = svc
        .ledger
        .voucher_signer()
        .await
        .ok_or_else(|| Error::internal("no voucher-signing key"))?;
    Ok(VoucherToken::sign(&key, voucher, expiry, cats, generation).encode())
}

/// Issues a voucher: opens its account, moves the budget from the fund, signs its token.
pub async fn issue(
    svc: &Services,
    fund_id: Uuid,
    target: IssueFor,
    amount: Option<i64>,
) -> Result<Issued> {
    let fund = funds::get(svc, fund_id).await?;
    ensure_open(svc, &fund)?;
    let pooled = fund.pooling == "household";
    let (household_id, child_id, eligible_children) = match (target, pooled) {
        (IssueFor::Child(child_id), false) => {
            let child = svc
                .store
                .child(child_id)
                .await?
                .ok_or_else(|| Error::not_found("unknown_child", "Dit kind bestaat niet."))?;
            if child.birth_date.is_none() {
                return Err(Error::rule(
                    "personal_data_erased",
                    "De gegevens van dit kind zijn gewist.",
                ));
            }
            if !eligible(&fund, &child) {
                return Err(Error::rule(
                    "child_not_eligible",
                    format!(
                        "Dit kind is bij de start van de regeling ouder dan {} jaar.",
                        fund.max_age_years
                    ),
                ));
            }
            (child.household_id, Some(child_id), 1)
        }
        (IssueFor::Household(household_id), true) => {
            super::households::get(svc, household_id).await?;
            let children = svc.store.children(household_id).await?;
            let n = children.iter().filter(|c| eligible(&fund, c)).count() as i64;
            if n == 0 {
                return Err(Error::rule(
                    "child_not_eligible",
                    format!(
                        "Geen van de kinderen is bij de start van de regeling {} jaar of jonger.",
                        fund.max_age_years
                    ),
                ));
            }
            (household_id, None, n)
        }
        (IssueFor::Child(_), true) => {
            return Err(Error::bad(
                "household_id_required",
                "Deze regeling werkt per huishouden: geef household_id op.",
            ));
        }
        (IssueFor::Household(_), false) => {
            return Err(Error::bad(
                "child_id_required",
                "Deze regeling werkt per kind: geef child_id op.",
            ));
        }
    };
    let amount = match amount {
        Some(a) => positive_amount(a)?,
        None => Cents(
            fund.amount_per_child_cents
                .checked_mul(eligible_children)
                .ok_or_else(|| Error::bad("invalid_amount", "Dit bedrag is te groot."))?,
        ),
    };
    let household = super::households::get(svc, household_id).await?;
    let categories = set_of(fund.categories);
    let expiry = token_expiry(&fund)?;
    let id = Uuid::new_v4();
    let token = sign_token(svc, id, expiry, categories, 0).await?;
    let row = VoucherRow {
        id,
        fund_id,
        household_id,
        child_id,
        token: token.clone(),
        expires_at: i64::from(expiry),
    };
    let appended = svc
        .ledger
        .submit(Command {
            entries: vec![
                Draft::new(Body::OpenAccount {
                    account: id,
                    kind: AccountKind::Voucher,
                    flags: FLAG_NO_NEGATIVE,
                    fund: fund_id,
                    party: Uuid::nil(),
                }),
                Draft::new(Body::Transfer {
                    kind: TransferKind::Issue,
                    category: None,
                    reference: Uuid::nil(),
                    legs: vec![Leg {
                        debit: fund_id,
                        credit: id,
                        amount,
                    }],
                    attachment: Vec::new(),
                }),
            ],
            writes: vec![
                catalog::fund_still_open(fund_id),
                catalog::insert_voucher(&row, svc.now()),
            ],
        })
        .await
        .map_err(|e| match e {
            crate::ledger::LedgerError::Conflict => Error::conflict(
                "already_issued",
                if pooled {
                    "Dit huishouden heeft in deze regeling al een voucher."
                } else {
                    "Dit kind heeft in deze regeling al een voucher."
                },
            ),
            crate::ledger::LedgerError::Rejected(r) if r.code() == "insufficient_balance" => {
                Error::rule(
                    "insufficient_fund_balance",
                    "Er staat niet genoeg geld in de regeling. Laat eerst geld storten.",
                )
            }
            other => other.into(),
        })?;
    Ok(Issued {
        id,
        token,
        balance_cents: amount.0,
        expires_at: fund.valid_until,
        categories: category_names(categories),
        parent_link: parent_link(svc, &household),
        fund_id,
        household_id,
        child_id,
        entry_index: appended.indexes[1],
    })
}

/// A voucher's status for people: `active`, `blocked`, `expired`, `not_yet_valid`, `closed`.
pub fn status(svc: &Services, fund: &FundRow, acc: &Account) -> &'static str {
    match acc.status {
        AccountStatus::Closed if fund.expired_at.is_some() => "expired",
        AccountStatus::Closed => "closed",
        AccountStatus::Blocked => "blocked",
        AccountStatus::Active if svc.today() > fund.valid_until => "expired",
        AccountStatus::Active if svc.today() < fund.valid_from => "not_yet_valid",
        AccountStatus::Active => "active",
    }
}

/// One line of a voucher's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    /// Ledger index.
    pub entry_index: u64,
    /// RFC 3339.
    pub time: String,
    /// `issue`, `top_up`, `redeem`, `direct_payment`, `reverse`, `expire`, `blocked`,
    /// `reissued`, `closed`, `opened`.
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

/// Loads a voucher the actor may see, or 404 (also for other households' vouchers).
pub async fn visible(svc: &Services, actor: &Actor, id: Uuid) -> Result<VoucherRow> {
    let not_found = || Error::not_found("unknown_voucher", "Deze voucher bestaat niet.");
    let v = svc.store.voucher(id).await?.ok_or_else(not_found)?;
    let allowed = match actor {
        Actor::Parent { household_id } => *household_id == v.household_id,
        Actor::User { .. } => actor.is(&[Role::Staff, Role::Auditor]),
    };
    if !allowed {
        return Err(if matches!(actor, Actor::Parent { .. }) {
            not_found()
        } else {
            Error::forbidden()
        });
    }
    Ok(v)
}

/// A voucher with balance and history.
pub async fn view(svc: &Services, actor: &Actor, id: Uuid) -> Result<VoucherView> {
    let v = visible(svc, actor, id).await?;
    let fund = funds::get(svc, v.fund_id).await?;
    let (acc, indexes) = {
        let state = svc.ledger.state().await;
        let acc = state
            .account(&id)
            .copied()
            .ok_or_else(|| Error::internal("voucher without a ledger account"))?;
        (acc, state.history(&id).to_vec())
    };
    let mut entries = Vec::with_capacity(indexes.len());
    for idx in indexes {
        if let Some(row) = svc.store.entries(idx, idx + 1).await?.pop() {
            entries.push((
                idx,
                SignedEntry::decode(&row.bytes).map_err(Error::internal)?,
            ));
        }
    }
    // The organisation behind each provider account this voucher's transfers touched, to
    // name the provider (an account's kind and party never change).
    let provider_accounts: std::collections::HashMap<Uuid, Uuid> = {
        let state = svc.ledger.state().await;
        entries
            .iter()
            .filter_map(|(_, e)| match &e.entry.body {
                Body::Transfer { legs, .. } => Some(legs),
                _ => None,
            })
            .flatten()
            .flat_map(|l| [l.debit, l.credit])
            .filter_map(|a| {
                state
                    .account(&a)
                    .filter(|acc| acc.kind == AccountKind::Provider)
                    .map(|acc| (a, acc.party))
            })
            .collect()
    };
    let child = match v.child_id {
        Some(c) => svc.store.child(c).await?,
        None => None,
    };
    let names = svc.store.provider_names().await?;
    let redemptions = svc.store.voucher_redemptions(id).await?;
    let staff = actor.is(&[Role::Staff, Role::Auditor]);
    let mut history = Vec::new();
    let mut last_generation = 0u8;
    for (idx, e) in entries {
        let time = chrono::DateTime::from_timestamp_millis(e.entry.time_ms as i64)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let (kind, amount, category, provider) = match &e.entry.body {
            Body::OpenAccount { .. } => continue,
            Body::AccountState {
                status, generation, ..
            } => {
                let k = match status {
                    AccountStatus::Blocked => "blocked",
                    AccountStatus::Closed => "closed",
                    AccountStatus::Active if *generation != last_generation => "reissued",
                    AccountStatus::Active => "unblocked",
                };
                last_generation = *generation;
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
                    if l.credit == id {
                        delta += l.amount.0;
                    }
                    if l.debit == id {
                        delta -= l.amount.0;
                    }
                    for other in [l.debit, l.credit] {
                        if let Some(party) = provider_accounts.get(&other) {
                            provider = names.get(party).cloned();
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
            _ => continue,
        };
        let description = redemptions
            .iter()
            .find(|r| r.entry_index == idx as i64)
            .and_then(|r| r.description.clone());
        let note = if staff {
            svc.store.entry_note(idx as i64).await?
        } else {
            None
        };
        history.push(HistoryItem {
            entry_index: idx,
            time,
            kind,
            amount_cents: amount,
            category,
            provider,
            description,
            note,
        });
    }
    Ok(VoucherView {
        id,
        fund_id: v.fund_id,
        fund_name: fund.name.clone(),
        balance_cents: acc.balance.0,
        status: status(svc, &fund, &acc).to_owned(),
        valid_from: fund.valid_from,
        expires_at: fund.valid_until,
        categories: category_names(set_of(fund.categories)),
        child_first_name: child.and_then(|c| c.first_name),
        household_id: v.household_id,
        child_id: v.child_id,
        generation: acc.generation,
        history,
    })
}

/// A voucher's balance right after ledger entry `index`, replayed from its own entries.
pub async fn balance_after(svc: &Services, voucher: Uuid, index: u64) -> Result<Cents> {
    let entries = {
        let state = svc.ledger.state().await;
        if state.account(&voucher).is_none() {
            return Err(Error::internal("voucher without a ledger account"));
        }
        state.history(&voucher).to_vec()
    };
    let mut balance: i64 = 0;
    for idx in entries.into_iter().filter(|i| *i <= index) {
        let Some(row) = svc.store.entries(idx, idx + 1).await?.pop() else {
            continue;
        };
        let e = SignedEntry::decode(&row.bytes).map_err(Error::internal)?;
        if let Body::Transfer { legs, .. } = &e.entry.body {
            for l in legs {
                if l.credit == voucher {
                    balance = balance
                        .checked_add(l.amount.0)
                        .ok_or_else(|| Error::internal("overflow"))?;
                }
                if l.debit == voucher {
                    balance = balance
                        .checked_sub(l.amount.0)
                        .ok_or_else(|| Error::internal("overflow"))?;
                }
            }
        }
    }
    Ok(Cents(balance))
}

async fn account(svc: &Services, id: Uuid) -> Result<Account> {
    svc.ledger
        .state()
        .await
        .account(&id)
        .copied()
        .ok_or_else(|| Error::internal("voucher without a ledger account"))
}

fn ensure_not_closed(acc: &Account) -> Result<()> {
    if acc.status == AccountStatus::Closed {
        return Err(Error::rule(
            "voucher_expired",
            "Deze voucher is verlopen of gesloten.",
        ));
    }
    Ok(())
}

/// Extra budget from the fund onto a voucher.
pub async fn top_up(
    svc: &Services,
    actor: &Actor,
    id: Uuid,
    amount_cents: i64,
    reason: &str,
    extra: Option<crate::store::Write>,
) -> Result<(u64, Cents, Cents)> {
    let amount = positive_amount(amount_cents)?;
    let reason = clean_text("reason", reason, 500, false)?;
    let v = svc
        .store
        .voucher(id)
        .await?
        .ok_or_else(|| Error::not_found("unknown_voucher", "Deze voucher bestaat niet."))?;
    let fund = funds::get(svc, v.fund_id).await?;
    ensure_open(svc, &fund)?;
    ensure_not_closed(&account(svc, id).await?)?;
    let appended = svc
        .ledger
        .submit(Command {
            entries: vec![Draft::new(Body::Transfer {
                kind: TransferKind::TopUp,
                category: None,
                reference: Uuid::nil(),
                legs: vec![Leg {
                    debit: v.fund_id,
                    credit: id,
                    amount,
                }],
                attachment: Vec::new(),
            })],
            writes: std::iter::once(catalog::insert_note(0, reason, actor.user_id(), svc.now()))
                .chain(extra)
                .collect(),
        })
        .await
        .map_err(|e| match e {
            crate::ledger::LedgerError::Rejected(r) if r.code() == "insufficient_balance" => {
                Error::rule(
                    "insufficient_fund_balance",
                    "Er staat niet genoeg geld in de regeling. Laat eerst geld storten.",
                )
            }
            other => other.into(),
        })?;
    Ok((
        appended.indexes[0],
        appended.balance(&id).unwrap_or(Cents::ZERO),
        appended.balance(&v.fund_id).unwrap_or(Cents::ZERO),
    ))
}

/// Blocks a voucher (a lost letter): its current token stops working; the balance stays.
pub async fn block(svc: &Services, actor: &Actor, id: Uuid, reason: &str) -> Result<u64> {
    let reason = clean_text("reason", reason, 500, false)?;
    svc.store
        .voucher(id)
        .await?
        .ok_or_else(|| Error::not_found("unknown_voucher", "Deze voucher bestaat niet."))?;
    let acc = account(svc, id).await?;
    ensure_not_closed(&acc)?;
    if acc.status == AccountStatus::Blocked {
        return Err(Error::conflict(
            "already_blocked",
            "Deze voucher is al geblokkeerd.",
        ));
    }
    let appended = svc
        .ledger
        .submit(Command {
            entries: vec![Draft::new(Body::AccountState {
                account: id,
                status: AccountStatus::Blocked,
                generation: acc.generation,
            })],
            writes: vec![catalog::insert_note(0, reason, actor.user_id(), svc.now())],
        })
        .await?;
    Ok(appended.indexes[0])
}

/// Reissues a voucher: a new token generation (the old printout stops working), same balance.
pub async fn reissue(svc: &Services, actor: &Actor, id: Uuid) -> Result<(String, u8, u64)> {
    let v = svc
        .store
        .voucher(id)
        .await?
        .ok_or_else(|| Error::not_found("unknown_voucher", "Deze voucher bestaat niet."))?;
    let fund = funds::get(svc, v.fund_id).await?;
    let acc = account(svc, id).await?;
    ensure_not_closed(&acc)?;
    let generation = acc.generation.checked_add(1).ok_or_else(|| {
        Error::rule(
            "too_many_reissues",
            "Deze voucher is te vaak opnieuw uitgegeven.",
        )
    })?;
    let expiry = u32::try_from(v.expires_at).map_err(Error::internal)?;
    let token = sign_token(svc, id, expiry, set_of(fund.categories), generation).await?;
    let appended = svc
        .ledger
        .submit(Command {
            entries: vec![Draft::new(Body::AccountState {
                account: id,
                status: AccountStatus::Active,
                generation,
            })],
            writes: vec![
                catalog::update_token(id, &token),
                catalog::insert_note(
                    0,
                    Some("opnieuw uitgegeven".into()),
                    actor.user_id(),
                    svc.now(),
                ),
            ],
        })
        .await?;
    Ok((token, generation, appended.indexes[0]))
}

/// A scanned token that checked out: the voucher and what is needed to spend from it.
pub struct CheckedToken {
    /// The decoded token.
    pub token: VoucherToken,
    /// The voucher.
    pub voucher: VoucherRow,
    /// Its fund.
    pub fund: FundRow,
    /// Its ledger account.
    pub account: Account,
}

/// Maps token codec errors to API errors.
pub fn token_error(e: TokenError) -> Error {
    let msg = match e {
        TokenError::Prefix => "Dit is geen Kindpakket-code (hij begint niet met KP1:).",
        TokenError::Length => "Deze code heeft niet de goede lengte. Scan opnieuw of typ hem over.",
        TokenError::Alphabet => {
            "Deze code bevat tekens die er niet in horen. Controleer het overtypen."
        }
        TokenError::Padding => "Deze code is niet goed overgenomen. Scan opnieuw.",
        TokenError::Format | TokenError::Categories => "Deze code heeft een onbekende vorm.",
        TokenError::Signature => "Deze code is niet echt: de handtekening klopt niet.",
    };
    Error::rule(e.code(), msg)
}

/// Checks a scanned or typed token against signature, key, voucher, status, generation and
/// expiry. A token has one valid text form: exactly what was printed, in upper case, without
/// surrounding spaces (a page that lets people type it may tidy their input before sending).
pub async fn check_token(svc: &Services, text: &str) -> Result<CheckedToken> {
    let token = VoucherToken::parse(text).map_err(token_error)?;
    {
        let state = svc.ledger.state().await;
        let Some(key) = state
            .keys(crate::core::entry::KeyPurpose::Voucher)
            .get(&token.key_id)
        else {
            return Err(Error::rule(
                "unknown_key",
                "Deze code is ondertekend met een sleutel die wij niet kennen.",
            ));
        };
        let vk =
            ed25519_dalek::VerifyingKey::from_bytes(&key.public_key).map_err(Error::internal)?;
        token.verify(&vk).map_err(token_error)?;
    }
    let voucher =
        svc.store.voucher(token.voucher).await?.ok_or_else(|| {
            Error::rule("unknown_voucher", "Deze voucher is bij ons niet bekend.")
        })?;
    let fund = funds::get(svc, voucher.fund_id).await?;
    let account = account(svc, voucher.id).await?;
    if account.status == AccountStatus::Closed || fund.expired_at.is_some() {
        return Err(Error::rule("voucher_expired", "Deze voucher is verlopen."));
    }
    if account.status == AccountStatus::Blocked {
        return Err(Error::rule(
            "voucher_blocked",
            "Deze voucher is geblokkeerd. De ouder kan contact opnemen met Leergeld.",
        ));
    }
    if token.generation != account.generation {
        return Err(Error::rule(
            "token_superseded",
            "Deze QR-code is vervangen door een nieuwe. Vraag naar de nieuwe code.",
        ));
    }
    let now_secs = (svc.ledger.now_ms() / 1000) as i64;
    if now_secs >= i64::from(token.expiry) {
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
    Ok(CheckedToken {
        token,
        voucher,
        fund,
        account,
    })
}

/// What a club sees when it scans a code.
#[derive(Debug, Serialize, ToSchema)]
pub struct Lookup {
    /// The voucher, when the code is genuine.
    pub voucher_id: Option<Uuid>,
    /// True when this club can redeem it now.
    pub valid: bool,
    /// Why not (plain Dutch), when not valid.
    pub reason: Option<String>,
    /// Stable code of the reason.
    pub reason_code: Option<String>,
    /// Balance, when valid.
    pub balance_cents: Option<i64>,
    /// Categories this club may charge to it.
    pub categories: Vec<String>,
    /// Just enough to check identity: first-name initial(s) and birth year(s).
    pub child_hint: Option<String>,
    /// Last day it can be spent, when valid.
    pub expires_at: Option<NaiveDate>,
}

fn hint(children: &[ChildRow]) -> Option<String> {
    let parts: Vec<String> = children
        .iter()
        .filter_map(|c| {
            let initial = c
                .first_name
                .as_ref()?
                .chars()
                .next()?
                .to_uppercase()
                .collect::<String>();
            let year = c.birth_date?.year();
            Some(format!("{initial}. ({year})"))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The provider of a provider user, or 403.
pub fn provider_of(actor: &Actor) -> Result<Uuid> {
    actor.provider().ok_or_else(Error::forbidden)
}

/// Checks a token for a club: valid or not, with a plain reason.
pub async fn lookup(svc: &Services, actor: &Actor, token: &str) -> Result<Lookup> {
    let provider = provider_of(actor)?;
    let invalid = |e: Error, voucher_id| Lookup {
        voucher_id,
        valid: false,
        reason: Some(e.message),
        reason_code: Some(e.code.to_owned()),
        balance_cents: None,
        categories: Vec::new(),
        child_hint: None,
        expires_at: None,
    };
    let checked = match check_token(svc, token).await {
        Ok(c) => c,
        Err(e) if e.kind == Kind::Rule => {
            return Ok(invalid(e, None));
        }
        Err(e) => return Err(e),
    };
    let Some(approval) = svc.store.approval(checked.fund.id, provider).await? else {
        return Ok(invalid(
            Error::rule(
                "provider_not_approved",
                "Uw organisatie is niet aangesloten bij de regeling van deze voucher.",
            ),
            // A club outside the fund learns nothing about the voucher, not even its id.
            None,
        ));
    };
    let allowed: CategorySet = set_of(approval.categories)
        .iter()
        .filter(|c| checked.token.categories.contains(*c))
        .collect();
    let children = match checked.voucher.child_id {
        Some(c) => svc.store.child(c).await?.into_iter().collect(),
        None => svc.store.children(checked.voucher.household_id).await?,
    };
    if !checked.account.balance.is_positive() {
        return Ok(Lookup {
            balance_cents: Some(0),
            ..invalid(
                Error::rule("insufficient_balance", "Het tegoed van deze voucher is op."),
                Some(checked.voucher.id),
            )
        });
    }
    Ok(Lookup {
        voucher_id: Some(checked.voucher.id),
        valid: true,
        reason: None,
        reason_code: None,
        balance_cents: Some(checked.account.balance.0),
        categories: category_names(allowed),
        child_hint: hint(&children),
        expires_at: Some(checked.fund.valid_until),
    })
}

/// Parses a category from a request.
pub fn parse_category(name: &str) -> Result<Category> {
    Category::parse(name.trim()).ok_or_else(|| {
        Error::bad(
            "invalid_category",
            "Kies een categorie: sport, cultuur, school of overig.",
        )
    })
}

/// The current token of a voucher the actor may see (for the QR code).
pub async fn current_token(svc: &Services, actor: &Actor, id: Uuid) -> Result<String> {
    Ok(visible(svc, actor, id).await?.token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_count_whole_years() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(age_on(d(2009, 1, 1), d(2026, 1, 1)), 17);
        assert_eq!(age_on(d(2008, 12, 31), d(2026, 1, 1)), 17);
        assert_eq!(age_on(d(2008, 1, 1), d(2026, 1, 1)), 18);
        assert_eq!(age_on(d(2008, 1, 2), d(2026, 1, 1)), 17);
        assert_eq!(age_on(d(2012, 2, 29), d(2026, 2, 28)), 13);
    }
}
