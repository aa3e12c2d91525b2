//! Funds (regelingen): creation, sponsor deposits, approving providers, and expiry at the end
//! of the period, which returns every remaining cent to the fund.

use chrono::NaiveDate;
use uuid::Uuid;

use super::providers::{parse_categories, set_of};
use super::{Actor, Error, Result, Services, clean_text, positive_amount};
use crate::core::entry::{
    AccountKind, AccountStatus, Body, FLAG_NO_NEGATIVE, Leg, MAX_LEGS, TransferKind,
};
use crate::core::money::Cents;
use crate::ledger::{Command, Draft};
use crate::store::catalog::{self, ApprovalRow, FundRow};

/// Oldest age a fund may allow.
pub const MAX_AGE_LIMIT: i64 = 30;
/// Largest budget per child (€ 100.000,00), a guard against typing errors.
pub const MAX_PER_CHILD_CENTS: i64 = 10_000_000;

/// A new fund.
pub struct NewFund {
    /// Name.
    pub name: String,
    /// Sponsor.
    pub sponsor: String,
    /// First day.
    pub valid_from: NaiveDate,
    /// Last day.
    pub valid_until: NaiveDate,
    /// Categories.
    pub categories: Vec<String>,
    /// Budget per child.
    pub amount_per_child_cents: i64,
    /// Oldest eligible age on the first day.
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

/// The external (sponsor) account opened at genesis.
async fn external_account(svc: &Services) -> Result<Uuid> {
    let state = svc.ledger.state().await;
    state
        .accounts()
        .filter(|(_, a)| a.kind == AccountKind::External)
        .min_by_key(|(_, a)| a.opened_at)
        .map(|(id, _)| *id)
        .ok_or_else(|| Error::internal("the ledger has no external account"))
}

/// Loads a fund or answers 404.
pub async fn get(svc: &Services, id: Uuid) -> Result<FundRow> {
    svc.store
        .fund(id)
        .await?
        .ok_or_else(|| Error::not_found("unknown_fund", "Deze regeling bestaat niet."))
}

/// A fund and its balance.
pub async fn view(svc: &Services, id: Uuid) -> Result<FundView> {
    let fund = get(svc, id).await?;
    let balance = svc
        .ledger
        .state()
        .await
        .account(&id)
        .map_or(Cents::ZERO, |a| a.balance);
    Ok(FundView { fund, balance })
}

/// Refuses work on a fund that has ended.
pub fn ensure_open(svc: &Services, fund: &FundRow) -> Result<()> {
    if fund.expired_at.is_some() || svc.today() > fund.valid_until {
        return Err(Error::rule("fund_expired", "Deze regeling is afgelopen."));
    }
    Ok(())
}

/// Creates a fund and opens its ledger account.
pub async fn create(svc: &Services, req: NewFund) -> Result<(FundRow, u64)> {
    let name = clean_text("name", &req.name, 200, true)?.unwrap_or_default();
    let sponsor = clean_text("sponsor", &req.sponsor, 200, true)?.unwrap_or_default();
    if req.valid_until < req.valid_from {
        return Err(Error::bad(
            "invalid_period",
            "De einddatum ligt voor de begindatum.",
        ));
    }
    let categories = parse_categories(&req.categories)?;
    if !(1..=MAX_PER_CHILD_CENTS).contains(&req.amount_per_child_cents) {
        return Err(Error::bad(
            "invalid_amount",
            "Het bedrag per kind moet groter zijn dan nul en hoogstens € 100.000,00 (in centen).",
        ));
    }
    let max_age = req.max_age_years.unwrap_or(17);
    if !(0..=MAX_AGE_LIMIT).contains(&max_age) {
        return Err(Error::bad(
            "invalid_field",
            "De maximale leeftijd moet tussen 0 en 30 jaar liggen.",
        ));
    }
    let pooling = req.pooling.unwrap_or_else(|| "child".into());
    if pooling != "child" && pooling != "household" {
        return Err(Error::bad(
            "invalid_field",
            "Kies voor 'pooling' tussen 'child' (per kind) en 'household' (per huishouden).",
        ));
    }
    let fund = FundRow {
        id: Uuid::new_v4(),
        name,
        sponsor,
        valid_from: req.valid_from,
        valid_until: req.valid_until,
        categories: i64::from(categories.mask()),
        amount_per_child_cents: req.amount_per_child_cents,
        max_age_years: max_age,
        pooling,
        expired_at: None,
    };
    // Tokens carry their expiry as 32-bit seconds: refuse periods they cannot express.
    super::vouchers::token_expiry(&fund)?;
    let appended = svc
        .ledger
        .submit(Command {
            entries: vec![Draft::new(Body::OpenAccount {
                account: fund.id,
                kind: AccountKind::Fund,
                flags: FLAG_NO_NEGATIVE,
                fund: Uuid::nil(),
                party: Uuid::nil(),
            })],
            writes: vec![catalog::insert_fund(&fund, svc.now())],
        })
        .await?;
    Ok((fund, appended.indexes[0]))
}

/// Money from the sponsor into the fund. The reference stays off the ledger.
pub async fn deposit(
    svc: &Services,
    actor: &Actor,
    fund_id: Uuid,
    amount_cents: i64,
    reference: &str,
    extra: Option<crate::store::Write>,
) -> Result<(u64, Cents)> {
    let amount = positive_amount(amount_cents)?;
    let reference = clean_text("reference", reference, 200, true)?;
    let fund = get(svc, fund_id).await?;
    if fund.expired_at.is_some() {
        return Err(Error::rule("fund_expired", "Deze regeling is afgelopen."));
    }
    let external = external_account(svc).await?;
    let appended = svc
        .ledger
        .submit(Command {
            entries: vec![Draft::new(Body::Transfer {
                kind: TransferKind::Deposit,
                category: None,
                reference: Uuid::nil(),
                legs: vec![Leg {
                    debit: external,
                    credit: fund.id,
                    amount,
                }],
                attachment: Vec::new(),
            })],
            writes: std::iter::once(catalog::insert_note(
                0,
                reference,
                actor.user_id(),
                svc.now(),
            ))
            .chain(extra)
            .collect(),
        })
        .await?;
    let balance = appended.balance(&fund.id).unwrap_or(Cents::ZERO);
    Ok((appended.indexes[0], balance))
}

/// Approves a provider for a fund and categories; the first approval opens the provider's
/// ledger account for the fund.
pub async fn approve_provider(
    svc: &Services,
    fund_id: Uuid,
    provider_id: Uuid,
    categories: &[String],
) -> Result<ApprovalRow> {
    let fund = get(svc, fund_id).await?;
    let provider = svc
        .store
        .provider(provider_id)
        .await?
        .ok_or_else(|| Error::not_found("unknown_provider", "Deze aanbieder bestaat niet."))?;
    let wanted = parse_categories(categories)?;
    let fund_set = set_of(fund.categories);
    let offered = set_of(provider.categories);
    if let Some(c) = wanted.iter().find(|c| !fund_set.contains(*c)) {
        return Err(Error::rule(
            "category_not_in_fund",
            format!("De categorie '{c}' hoort niet bij deze regeling."),
        ));
    }
    if let Some(c) = wanted.iter().find(|c| !offered.contains(*c)) {
        return Err(Error::rule(
            "category_not_offered",
            format!("Deze aanbieder biedt geen '{c}' aan."),
        ));
    }
    let mask = i64::from(wanted.mask());
    let now = svc.now();
    if let Some(existing) = svc.store.approval(fund_id, provider_id).await? {
        svc.store
            .execute_all(&[catalog::update_approval(fund_id, provider_id, mask, now)])
            .await?;
        return Ok(ApprovalRow {
            categories: mask,
            ..existing
        });
    }
    let row = ApprovalRow {
        fund_id,
        provider_id,
        account_id: Uuid::new_v4(),
        categories: mask,
    };
    let result = svc
        .ledger
        .submit(Command {
            entries: vec![Draft::new(Body::OpenAccount {
                account: row.account_id,
                kind: AccountKind::Provider,
                flags: FLAG_NO_NEGATIVE,
                fund: fund_id,
                party: provider_id,
            })],
            writes: vec![catalog::insert_approval(&row, now)],
        })
        .await;
    match result {
        Ok(_) => Ok(row),
        // Approved at the same moment by someone else: their account stands.
        Err(crate::ledger::LedgerError::Conflict) => {
            svc.store
                .execute_all(&[catalog::update_approval(fund_id, provider_id, mask, now)])
                .await?;
            let existing = svc.store.approval(fund_id, provider_id).await?;
            existing.ok_or_else(|| Error::internal("approval vanished"))
        }
        Err(e) => Err(e.into()),
    }
}

/// What expiry did.
pub struct Expired {
    /// Vouchers closed.
    pub vouchers: usize,
    /// Cents returned to the fund.
    pub returned: Cents,
}

/// Ends a fund: every voucher's remaining balance goes back to the fund and every voucher is
/// closed, all in one command.
pub async fn expire(svc: &Services, actor: &Actor, fund_id: Uuid) -> Result<Expired> {
    // Balances and vouchers read here can change before the command is applied (a redemption
    // or an issue at the same moment); the command is then refused as a whole and we read
    // again.
    let mut attempts = 0;
    loop {
        match expire_once(svc, actor, fund_id).await {
            Err(e) if (e.kind == super::Kind::Rule || e.code == "fund_changed") && attempts < 3 => {
                attempts += 1
            }
            other => return other,
        }
    }
}

async fn expire_once(svc: &Services, actor: &Actor, fund_id: Uuid) -> Result<Expired> {
    let fund = get(svc, fund_id).await?;
    if fund.expired_at.is_some() {
        return Err(Error::conflict(
            "already_expired",
            "Deze regeling is al afgesloten.",
        ));
    }
    let ids = svc.store.fund_voucher_ids(fund_id).await?;
    let (legs, to_close, returned) = {
        let state = svc.ledger.state().await;
        let mut legs = Vec::new();
        let mut to_close = Vec::new();
        let mut returned = Cents::ZERO;
        for id in &ids {
            let Some(acc) = state.account(id) else {
                continue;
            };
            if acc.status == AccountStatus::Closed {
                continue;
            }
            if acc.balance.is_positive() {
                legs.push(Leg {
                    debit: *id,
                    credit: fund_id,
                    amount: acc.balance,
                });
                returned = returned
                    .checked_add(acc.balance)
                    .ok_or_else(|| Error::internal("overflow"))?;
            }
            to_close.push((*id, acc.generation));
        }
        (legs, to_close, returned)
    };
    let mut entries: Vec<Draft> = legs
        .chunks(MAX_LEGS)
        .map(|chunk| {
            Draft::new(Body::Transfer {
                kind: TransferKind::Expire,
                category: None,
                reference: Uuid::nil(),
                legs: chunk.to_vec(),
                attachment: Vec::new(),
            })
        })
        .collect();
    entries.extend(to_close.iter().map(|(id, generation)| {
        Draft::new(Body::AccountState {
            account: *id,
            status: AccountStatus::Closed,
            generation: *generation,
        })
    }));
    let now = svc.now();
    let mut writes = vec![catalog::expire_fund(fund_id, now, ids.len())];
    if !entries.is_empty() {
        writes.push(catalog::insert_note(
            0,
            Some("regeling afgesloten".into()),
            actor.user_id(),
            now,
        ));
    }
    svc.ledger.submit(Command { entries, writes }).await?;
    Ok(Expired {
        vouchers: to_close.len(),
        returned,
    })
}
