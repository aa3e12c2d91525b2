//! What a parent sees through the household's personal link (no account): per voucher the
//! child's first name, the balance, the last day, where and when it was spent, and the QR code.

use uuid::Uuid;

use super::error::{Conflict, Missing};
use super::vouchers::{self, VoucherView};
use super::{Actor, Error, Result, Services};

/// One voucher of the household, as its parent sees it.
#[derive(Debug)]
pub struct ParentVoucher {
    /// Balance, history and the child's first name.
    pub view: VoucherView,
    /// The QR code of its current token (an SVG), unless it cannot be shown: the voucher is
    /// closed, or its key was withdrawn and it waits for a new letter.
    pub qr_svg: Option<String>,
    /// The code under the QR code, in groups of five, for a club that types it.
    pub code: Option<String>,
}

/// The actor of a personal link: the parent of its household, or `unknown_page` for a link
/// that is wrong, renewed or revoked (the page says whom to call).
pub async fn open(svc: &Services, link: &str) -> Result<Actor> {
    match super::households::by_link(svc, link).await? {
        Some(h) => Ok(Actor::Parent { household: h.id }),
        None => Err(Error::NotFound(Missing::Page)),
    }
}

/// Every voucher of the parent's household, open ones first. Only through the household's own
/// link.
pub async fn overview(svc: &Services, actor: &Actor) -> Result<Vec<ParentVoucher>> {
    let Actor::Parent { household } = actor else {
        return Err(Error::Forbidden);
    };
    let rows = svc.store().household_vouchers(*household).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(one(svc, actor, row.id).await?);
    }
    // Open vouchers first, then by last day; the order of issue otherwise.
    out.sort_by_key(|v| (v.view.status != "active", v.view.expires_at));
    Ok(out)
}

async fn one(svc: &Services, actor: &Actor, id: Uuid) -> Result<ParentVoucher> {
    let view = vouchers::view(svc, actor, id).await?;
    // No QR code that would not work: closed, expired or blocked (the page says why).
    let mut code = None;
    let qr_svg = if view.status == "closed" || view.status == "expired" || view.status == "blocked"
    {
        None
    } else {
        match vouchers::current_token(svc, actor, id).await {
            Ok(token) => {
                let label = match &view.child_first_name {
                    Some(name) => format!("QR-code van het tegoed van {name}"),
                    None => "QR-code van het tegoed van uw gezin".to_owned(),
                };
                code = Some(super::qr::grouped(&token));
                Some(super::qr::svg(&token, &label).map_err(Error::internal)?)
            }
            Err(Error::Conflict(Conflict::ReissueNeeded)) => None,
            Err(e) => return Err(e),
        }
    };
    Ok(ParentVoucher { view, qr_svg, code })
}
