//! Checking a scanned or typed token, and what a club sees when it scans one.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::common::account;
use crate::core::accounts::Account;
use crate::core::entry::{AccountStatus, KeyPurpose};
use crate::core::role::Role;
use crate::core::token::VoucherToken;
use crate::core::voucher::child_hint;
use crate::service::error::{Invalid, Rule};
use crate::service::{Actor, Error, Input, Result, Services, funds};
use crate::store::funds::FundRow;
use crate::store::vouchers::VoucherRow;

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

/// Longest text accepted as a scanned code (a token has 150 characters).
pub const MAX_TOKEN_TEXT: usize = 1000;

/// Checks a scanned or typed token against signature, key, voucher, status, generation and
/// expiry. A token has one valid text form: exactly what was printed, in upper case, without
/// surrounding spaces (a page that lets people type it may tidy their input before sending).
///
/// With `club`, the club scanning it must be approved for the voucher's fund, and this is
/// checked right after the signature, before anything about the voucher's state: a club
/// outside the fund learns nothing (not whether it is blocked, superseded or expired); it gets
/// the given refusal instead.
pub(in crate::service) async fn check_token(
    svc: &Services,
    text: &str,
    club: Option<(Uuid, Rule)>,
) -> Result<CheckedToken> {
    let token = VoucherToken::parse(text).map_err(Rule::Token)?;
    {
        let state = svc.ledger().state().await;
        let Some(key) = state.keys(KeyPurpose::Voucher).get(&token.key_id) else {
            return Err(Rule::UnknownKey.into());
        };
        let vk =
            ed25519_dalek::VerifyingKey::from_bytes(&key.public_key).map_err(Error::internal)?;
        token.verify(&vk).map_err(Rule::Token)?;
    }
    let voucher = svc
        .store()
        .voucher(token.voucher)
        .await?
        .ok_or(Error::Rule(Rule::UnknownVoucherToken))?;
    let fund = funds::get(svc, voucher.fund_id).await?;
    if let Some((provider, refusal)) = club
        && svc.store().approval(fund.id, provider).await?.is_none()
    {
        return Err(refusal.into());
    }
    // What Leergeld decided about the key (after the club check: a club outside the fund
    // learns nothing): revoked (a compromise) or rotated out and past its
    // last day. Read each time, so a revocation counts at once, also in a running service.
    if let Some(status) = svc.store().voucher_key_status(&token.key_id).await? {
        if status.revoked_at.is_some() {
            return Err(Rule::KeyRevoked.into());
        }
        if status.accept_until.is_some_and(|last| svc.today() > last) {
            return Err(Rule::KeyRetired.into());
        }
    }
    let account = account(svc, &voucher.account_id).await?;
    if account.status == AccountStatus::Closed || fund.expired_at.is_some() {
        return Err(Rule::VoucherExpired.into());
    }
    if account.status == AccountStatus::Blocked {
        return Err(Rule::VoucherBlocked.into());
    }
    if token.generation != voucher.generation {
        return Err(Rule::TokenSuperseded.into());
    }
    let now_secs = svc.ledger().now_ms() / 1000;
    if now_secs >= u64::from(token.expiry) {
        return Err(Rule::VoucherExpired.into());
    }
    if svc.today() < fund.valid_from {
        return Err(Rule::VoucherNotYetValid {
            from: fund.valid_from,
        }
        .into());
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

impl Lookup {
    fn invalid(rule: Rule, voucher_id: Option<Uuid>) -> Self {
        let e = Error::Rule(rule);
        Lookup {
            voucher_id,
            valid: false,
            reason: Some(e.message().into_owned()),
            reason_code: Some(e.code().to_owned()),
            balance_cents: None,
            categories: Vec::new(),
            child_hint: None,
            expires_at: None,
        }
    }
}

/// Checks a token for the caller's club (cashier, provider manager): valid or not, with a
/// plain reason.
pub async fn lookup(svc: &Services, actor: &Actor, token: Input<String>) -> Result<Lookup> {
    let (_, provider) = actor.require_provider(&[Role::Cashier, Role::ProviderManager])?;
    let token = token.read()?;
    if token.len() > MAX_TOKEN_TEXT {
        return Err(Invalid::TokenTooLong.into());
    }
    let checked = match check_token(svc, &token, Some((provider, Rule::ClubNotApproved))).await {
        Ok(c) => c,
        Err(Error::Rule(rule)) => return Ok(Lookup::invalid(rule, None)),
        Err(e) => return Err(e),
    };
    let Some(approval) = svc.store().approval(checked.fund.id, provider).await? else {
        // A club outside the fund learns nothing about the voucher, not even its id.
        return Ok(Lookup::invalid(Rule::ClubNotApproved, None));
    };
    let allowed = approval.categories.intersection(checked.token.categories);
    let children = match checked.voucher.child_id {
        Some(c) => svc.store().child(c).await?.into_iter().collect(),
        None => svc.store().children(checked.voucher.household_id).await?,
    };
    if !checked.account.balance.is_positive() {
        return Ok(Lookup {
            balance_cents: Some(0),
            ..Lookup::invalid(Rule::NothingLeft, Some(checked.voucher.id))
        });
    }
    Ok(Lookup {
        voucher_id: Some(checked.voucher.id),
        valid: true,
        reason: None,
        reason_code: None,
        balance_cents: Some(checked.account.balance.0),
        categories: allowed.names(),
        child_hint: child_hint(
            children
                .iter()
                .map(|c| (c.first_name.as_deref(), c.birth_date)),
        ),
        expires_at: Some(checked.fund.valid_until),
    })
}
