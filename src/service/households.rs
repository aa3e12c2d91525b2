//! Households and children. Personal data lives only here (never on the ledger) and can be
//! erased; each household has one personal link for the parent's page.

use chrono::NaiveDate;
use uuid::Uuid;

use super::error::{Conflict, Invalid, Missing, Rule};
use super::links::link_hash;
use super::{Actor, Error, Input, Result, Services, optional_text, required_text};
use crate::core::role::Role;
pub use crate::store::households::{ChildRow, HouseholdRow};
use crate::store::vouchers::VoucherRow;
use crate::store::{Change, StoreError};

/// Most children in one household.
pub const MAX_CHILDREN: usize = 20;

/// A child in a new household.
#[derive(Debug, Clone)]
pub struct NewChild {
    /// First name.
    pub first_name: String,
    /// Birth date.
    pub birth_date: NaiveDate,
}

/// A new household.
#[derive(Debug, Clone)]
pub struct NewHousehold {
    /// Leergeld's case reference.
    pub reference: String,
    /// Parent's name.
    pub parent_name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Children.
    pub children: Vec<NewChild>,
}

/// A household with its children, and (unless erased) its personal link.
pub struct HouseholdView {
    /// The household.
    pub household: HouseholdRow,
    /// Its children.
    pub children: Vec<ChildRow>,
    /// The parent's personal link (none after erasure).
    pub parent_link: Option<String>,
    /// Its vouchers (when read, not when created).
    pub vouchers: Option<Vec<VoucherRow>>,
}

fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.contains(char::is_whitespace)
        && !domain.contains('@')
        && e.chars().count() <= 254
}

fn valid_phone(p: &str) -> bool {
    let digits = p.chars().filter(char::is_ascii_digit).count();
    (8..=15).contains(&digits) && p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
}

/// The page address of a link token.
pub(in crate::service) fn link_url(svc: &Services, token: &str) -> String {
    match &svc.settings().public_url {
        Some(base) => format!("{}/tegoed/{token}", base.trim_end_matches('/')),
        None => format!("/tegoed/{token}"),
    }
}

/// The current personal link of a household (none after erasure).
pub(in crate::service) fn parent_link(svc: &Services, h: &HouseholdRow) -> Option<String> {
    h.erased_at
        .is_none()
        .then(|| link_url(svc, &svc.links().token(h.id, h.link_generation)))
}

/// Registers a household and its children (staff).
pub async fn create(
    svc: &Services,
    actor: &Actor,
    input: Input<NewHousehold>,
) -> Result<HouseholdView> {
    actor.require(&[Role::Staff])?;
    let req = input.read()?;
    let reference = required_text("reference", &req.reference, 100)?;
    let parent_name = required_text("parent_name", &req.parent_name, 200)?;
    // Contact fields are limited as sent (spaces included), as the API document says.
    let too_long =
        |s: &Option<String>, max: usize| s.as_ref().is_some_and(|s| s.chars().count() > max);
    let email = optional_text("email", req.email.as_deref(), 254)?;
    if too_long(&req.email, 254) || email.as_deref().is_some_and(|e| !valid_email(e)) {
        return Err(Invalid::Email.into());
    }
    let phone = optional_text("phone", req.phone.as_deref(), 30)?;
    if too_long(&req.phone, 30) || phone.as_deref().is_some_and(|p| !valid_phone(p)) {
        return Err(Invalid::Phone.into());
    }
    if req.children.is_empty() || req.children.len() > MAX_CHILDREN {
        return Err(Invalid::Children.into());
    }
    let today = svc.today();
    let oldest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    let household = HouseholdRow {
        id: Uuid::new_v4(),
        reference: Some(reference),
        parent_name: Some(parent_name),
        email,
        phone,
        link_generation: 0,
        erased_at: None,
    };
    let mut children = Vec::with_capacity(req.children.len());
    for c in &req.children {
        let first_name = required_text("first_name", &c.first_name, 100)?;
        if c.birth_date > today || c.birth_date < oldest {
            return Err(Invalid::BirthDate.into());
        }
        children.push(ChildRow {
            id: Uuid::new_v4(),
            household_id: household.id,
            first_name: Some(first_name),
            birth_date: Some(c.birth_date),
        });
    }
    let token = svc.links().token(household.id, 0);
    let now = svc.now();
    let mut changes = vec![Change::InsertHousehold {
        household: household.clone(),
        link_hash: link_hash(&token),
        at: now,
    }];
    changes.extend(
        children
            .iter()
            .enumerate()
            .map(|(position, c)| Change::InsertChild {
                child: c.clone(),
                position,
                at: now,
            }),
    );
    match svc.store().apply(&changes).await {
        Ok(()) => {}
        Err(StoreError::Unique) => return Err(Conflict::ReferenceTaken.into()),
        Err(e) => return Err(e.into()),
    }
    Ok(HouseholdView {
        household,
        children,
        parent_link: Some(link_url(svc, &token)),
        vouchers: None,
    })
}

/// Loads a household or answers 404.
pub(in crate::service) async fn get(svc: &Services, id: Uuid) -> Result<HouseholdRow> {
    svc.store()
        .household(id)
        .await?
        .ok_or(Error::NotFound(Missing::Household))
}

/// A household with its children and vouchers (staff, auditors), and its personal link (staff
/// only: an auditor reads everything except what can spend money or open a family's page).
pub async fn view(svc: &Services, actor: &Actor, id: Uuid) -> Result<HouseholdView> {
    let user = actor.require(&[Role::Staff, Role::Auditor])?;
    let household = get(svc, id).await?;
    let may_open = user.role.acts_as(Role::Staff);
    let children = svc.store().children(id).await?;
    let vouchers = svc.store().household_vouchers(id).await?;
    Ok(HouseholdView {
        parent_link: if may_open {
            parent_link(svc, &household)
        } else {
            None
        },
        household,
        children,
        vouchers: Some(vouchers),
    })
}

/// Erases names, contact data and birth dates (right to erasure) and revokes the personal
/// link (admin). Ledger entries carry no personal data, so the ledger is untouched and still
/// verifies.
pub async fn erase_personal_data(svc: &Services, actor: &Actor, id: Uuid) -> Result<()> {
    actor.require(&[Role::Admin])?;
    get(svc, id).await?;
    let now = svc.now();
    let mut changes = vec![Change::EraseHousehold { id, at: now }];
    // Notes typed with the household's vouchers' entries (reasons for a block, a top-up).
    let vouchers = svc.store().household_vouchers(id).await?;
    {
        let state = svc.ledger().state().await;
        for v in &vouchers {
            changes.extend(
                state
                    .history(&v.account_id)
                    .iter()
                    .map(|i| Change::EraseNote { entry_index: *i }),
            );
        }
    }
    svc.store().apply(&changes).await?;
    svc.store().flush_erased().await?;
    tracing::info!(household = %id, "personal data erased");
    Ok(())
}

/// Corrections to a household (staff): the parent's contact data, children's first names and
/// birth dates, and children added. The case reference stays.
#[derive(Debug, Clone)]
pub struct HouseholdEdit {
    /// Parent's name.
    pub parent_name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Existing children, corrected: id, first name, birth date.
    pub children: Vec<(Uuid, String, NaiveDate)>,
    /// Children to add.
    pub added: Vec<NewChild>,
}

/// Corrects a household (staff); refused after erasure.
pub async fn update(
    svc: &Services,
    actor: &Actor,
    id: Uuid,
    input: Input<HouseholdEdit>,
) -> Result<()> {
    actor.require(&[Role::Staff])?;
    let req = input.read()?;
    let h = get(svc, id).await?;
    if h.erased_at.is_some() {
        return Err(Rule::HouseholdErased.into());
    }
    let parent_name = required_text("parent_name", &req.parent_name, 200)?;
    let too_long =
        |s: &Option<String>, max: usize| s.as_ref().is_some_and(|s| s.chars().count() > max);
    let email = optional_text("email", req.email.as_deref(), 254)?;
    if too_long(&req.email, 254) || email.as_deref().is_some_and(|e| !valid_email(e)) {
        return Err(Invalid::Email.into());
    }
    let phone = optional_text("phone", req.phone.as_deref(), 30)?;
    if too_long(&req.phone, 30) || phone.as_deref().is_some_and(|p| !valid_phone(p)) {
        return Err(Invalid::Phone.into());
    }
    let existing = svc.store().children(id).await?;
    if existing.len() + req.added.len() > MAX_CHILDREN {
        return Err(Invalid::Children.into());
    }
    let today = svc.today();
    let oldest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    let born_ok = |d: NaiveDate| d <= today && d >= oldest;
    let mut changes = vec![Change::UpdateHousehold {
        id,
        parent_name,
        email,
        phone,
    }];
    for (child, name, birth) in &req.children {
        if !existing.iter().any(|c| c.id == *child) {
            return Err(Error::NotFound(Missing::Child));
        }
        let first_name = required_text("first_name", name, 100)?;
        if !born_ok(*birth) {
            return Err(Invalid::BirthDate.into());
        }
        changes.push(Change::UpdateChild {
            id: *child,
            household: id,
            first_name,
            birth_date: *birth,
        });
    }
    let now = svc.now();
    for (i, c) in req.added.iter().enumerate() {
        let first_name = required_text("first_name", &c.first_name, 100)?;
        if !born_ok(c.birth_date) {
            return Err(Invalid::BirthDate.into());
        }
        changes.push(Change::InsertChild {
            child: ChildRow {
                id: Uuid::new_v4(),
                household_id: id,
                first_name: Some(first_name),
                birth_date: Some(c.birth_date),
            },
            position: existing.len() + i,
            at: now,
        });
    }
    svc.store().apply(&changes).await?;
    Ok(())
}

/// Gives the household a new personal link (staff); the old one stops working at once.
pub async fn renew_link(svc: &Services, actor: &Actor, id: Uuid) -> Result<String> {
    actor.require(&[Role::Staff])?;
    let h = get(svc, id).await?;
    if h.erased_at.is_some() {
        return Err(Rule::HouseholdErased.into());
    }
    let generation = h.link_generation + 1;
    let token = svc.links().token(id, generation);
    svc.store()
        .apply(&[Change::RenewLink {
            household: id,
            generation,
            link_hash: link_hash(&token),
        }])
        .await?;
    Ok(link_url(svc, &token))
}

/// The household a personal link belongs to, if the link is current.
pub(in crate::service) async fn by_link(
    svc: &Services,
    token: &str,
) -> Result<Option<HouseholdRow>> {
    if !super::links::plausible(token) {
        return Ok(None);
    }
    Ok(svc.store().household_by_link(&link_hash(token)).await?)
}

/// Most households a search shows.
pub const SEARCH_MAX: i64 = 50;

/// Households whose reference, parent's name or a child's first name contains the text
/// (staff, auditors); erased households are left out.
pub async fn search(svc: &Services, actor: &Actor, text: &str) -> Result<Vec<HouseholdRow>> {
    actor.require(&[Role::Staff, Role::Auditor])?;
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 100 {
        return Ok(Vec::new());
    }
    Ok(svc.store().search_households(text, SEARCH_MAX).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_details_are_checked_loosely_but_sanely() {
        assert!(valid_email("fatima@example.org"));
        assert!(!valid_email("fatima@example"));
        assert!(!valid_email("fatima example@x.nl"));
        assert!(!valid_email("@x.nl"));
        assert!(valid_phone("06-12345678"));
        assert!(valid_phone("+31 6 1234 5678"));
        assert!(!valid_phone("12345"));
        assert!(!valid_phone("06-1234567a"));
    }
}
