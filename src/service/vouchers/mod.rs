//! Vouchers: a ledger account funded from a fund, with a signed KP1 token for the QR code.
//!
//! - [`issue`]: issuing a voucher to a child or (pooled funds) a household;
//! - [`lifecycle`]: top-up, block and reissue;
//! - [`scan`]: checking a scanned or typed token, and what a club sees when it scans;
//! - [`history`]: a voucher with its balance and history, and its QR code.

pub mod history;
pub mod issue;
pub mod lifecycle;
pub mod scan;

pub(crate) use history::balance_after;
pub use history::{HistoryItem, VoucherView, current_token, view};
pub use issue::{IssueFor, Issued, issue};
pub use lifecycle::{Block, Reissued, TopUp, ToppedUp, block, reissue, top_up};
pub(crate) use scan::check_token;
pub use scan::{CheckedToken, Lookup, lookup};

use uuid::Uuid;

use super::error::{Missing, Rule};
use super::{Error, Result, Services};
use crate::core::accounts::Account;
use crate::core::category::{Category, CategorySet};
use crate::core::entry::AccountStatus;
use crate::core::token::VoucherToken;
use crate::store::vouchers::VoucherRow;

/// Loads a voucher or answers 404.
pub(crate) async fn get(svc: &Services, id: Uuid) -> Result<VoucherRow> {
    svc.store()
        .voucher(id)
        .await?
        .ok_or(Error::NotFound(Missing::Voucher))
}

/// A voucher's ledger account.
pub(crate) async fn account(svc: &Services, id: &Uuid) -> Result<Account> {
    super::funds::ledger_account(svc, id).await
}

/// Refuses work on a closed voucher.
pub(crate) fn ensure_not_closed(acc: &Account) -> Result<()> {
    if acc.status == AccountStatus::Closed {
        return Err(Rule::VoucherExpired.into());
    }
    Ok(())
}

/// Signs a token with the active voucher key.
pub(crate) async fn sign_token(
    svc: &Services,
    voucher: Uuid,
    expiry: u32,
    categories: CategorySet,
    generation: u8,
) -> Result<String> {
    let (_, key) = svc
        .ledger()
        .voucher_signer()
        .await
        .ok_or_else(|| Error::bug("no voucher-signing key"))?;
    Ok(VoucherToken::sign(&key, voucher, expiry, categories, generation).encode())
}

/// Parses a category from a request.
pub(crate) fn parse_category(name: &str) -> Result<Category> {
    Category::parse(name.trim()).ok_or(Error::Invalid(super::error::Invalid::Category))
}
