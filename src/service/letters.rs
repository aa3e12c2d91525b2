//! Letters for families without a smartphone: per open voucher the child's first name, the
//! balance, the last day and the QR code, printed by Leergeld for many households at once.

use uuid::Uuid;

use super::error::Conflict;
use super::vouchers::{self, VoucherView};
use super::{Actor, Error, Result, Services};
use crate::core::role::Role;

/// One child's letter.
#[derive(Debug)]
pub struct Letter {
    /// The voucher.
    pub view: VoucherView,
    /// The QR code of its current token (SVG).
    pub qr_svg: String,
    /// The code under the QR code, in groups of five.
    pub code: String,
    /// The household's reference (for Leergeld's envelope), when kept.
    pub reference: Option<String>,
}

/// The letters of every open voucher of a fund (staff), or of one household's vouchers in it,
/// by household reference. Vouchers that are blocked, closed or wait for a new key are left out
/// (their QR code would not work); the count of those is returned too.
pub async fn of_fund(
    svc: &Services,
    actor: &Actor,
    fund: Uuid,
    household: Option<Uuid>,
) -> Result<(Vec<Letter>, usize)> {
    actor.require(&[Role::Staff])?;
    let ids = svc.store().fund_voucher_ids(fund).await?;
    let mut out = Vec::new();
    let mut left_out = 0;
    for id in ids {
        let view = vouchers::view(svc, actor, id).await?;
        if household.is_some_and(|h| h != view.household_id) {
            continue;
        }
        if view.status != "active" && view.status != "not_yet_valid" {
            left_out += 1;
            continue;
        }
        let token = match vouchers::current_token(svc, actor, id).await {
            Ok(t) => t,
            Err(Error::Conflict(Conflict::ReissueNeeded)) => {
                left_out += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let label = match &view.child_first_name {
            Some(name) => format!("QR-code van het tegoed van {name}"),
            None => "QR-code van het tegoed van het gezin".to_owned(),
        };
        let qr_svg = super::qr::svg(&token, &label).map_err(Error::internal)?;
        let reference = svc
            .store()
            .household(view.household_id)
            .await?
            .and_then(|h| h.reference);
        out.push(Letter {
            view,
            qr_svg,
            code: super::qr::grouped(&token),
            reference,
        });
    }
    out.sort_by(|a, b| a.reference.cmp(&b.reference));
    Ok((out, left_out))
}
