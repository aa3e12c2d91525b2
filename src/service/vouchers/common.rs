//! What the voucher use cases share: loading a voucher and its account, signing its token.

use uuid::Uuid;

use crate::core::accounts::Account;
use crate::core::category::{Category, CategorySet};
use crate::core::entry::AccountStatus;
use crate::core::token::VoucherToken;
use crate::service::error::{Conflict, Missing, Rule};
use crate::service::{Error, Result, Services};
use crate::store::vouchers::VoucherRow;

/// Loads a voucher or answers 404.
pub(in crate::service) async fn get(svc: &Services, id: Uuid) -> Result<VoucherRow> {
    svc.store()
        .voucher(id)
        .await?
        .ok_or(Error::NotFound(Missing::Voucher))
}

/// A voucher's ledger account.
pub(in crate::service) async fn account(svc: &Services, id: &Uuid) -> Result<Account> {
    crate::service::funds::ledger_account(svc, id).await
}

/// Refuses work on a closed voucher.
pub(in crate::service) fn ensure_not_closed(acc: &Account) -> Result<()> {
    if acc.status == AccountStatus::Closed {
        return Err(Rule::VoucherExpired.into());
    }
    Ok(())
}

/// Signs a token with the active voucher key; the token and the key's id (which is stored,
/// the token is not).
pub(in crate::service) async fn sign_token(
    svc: &Services,
    voucher: Uuid,
    expiry: u32,
    categories: CategorySet,
    generation: u8,
) -> Result<(String, Vec<u8>)> {
    let (id, key) = svc
        .ledger()
        .voucher_signer()
        .await
        .ok_or_else(|| Error::bug("no voucher-signing key"))?;
    if svc
        .store()
        .voucher_key_status(&id)
        .await?
        .is_some_and(|s| s.revoked_at.is_some())
    {
        // Never sign new tokens with a revoked key: `keys revoke` makes a new one active
        // (with the service stopped).
        return Err(Error::Unavailable(
            crate::service::error::Unavailable::Busy {
                cause: "the active voucher key is revoked; stop the service and run keys revoke \
                    again (or keys rotate) to make a new key active"
                    .into(),
            },
        ));
    }
    let token = VoucherToken::sign(&key, voucher, expiry, categories, generation).encode();
    Ok((token, id.to_vec()))
}

/// A voucher's current token, signed again from its fields: the key it was signed with, its
/// expiry, its fund's categories and its generation. Ed25519 signing is
/// deterministic, so this is the very token that was handed out; none is stored.
pub(in crate::service) async fn token_of(svc: &Services, v: &VoucherRow) -> Result<String> {
    let key_id: [u8; 4] = v
        .token_key_id
        .as_slice()
        .try_into()
        .map_err(|_| Error::bug(format!("voucher {} has no token key", v.id)))?;
    // A revoked key's tokens are refused, and a retired key's private half has left the keys
    // directory: the voucher needs a new token (a reissue).
    let today = svc.today();
    let revoked = svc
        .store()
        .voucher_key_status(&key_id)
        .await?
        .is_some_and(|s| s.revoked_at.is_some() || s.accept_until.is_some_and(|d| today > d));
    let key = match svc.ledger().voucher_key(key_id).await {
        Some(k) if !revoked => k,
        _ => return Err(Conflict::ReissueNeeded.into()),
    };
    let fund = crate::service::funds::get(svc, v.fund_id).await?;
    Ok(VoucherToken::sign(&key, v.id, v.expires_at, fund.categories, v.generation).encode())
}

/// Parses a category from a request.
pub(in crate::service) fn parse_category(name: &str) -> Result<Category> {
    Category::parse(name.trim()).ok_or(Error::Invalid(crate::service::error::Invalid::Category))
}
