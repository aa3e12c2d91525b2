//! Households and children. Personal data lives only here (never on the ledger) and can be
//! erased; each household has one personal link for the parent's page.

use chrono::NaiveDate;
use uuid::Uuid;

use super::links::link_hash;
use super::{Error, Result, Services, clean_text};
use crate::store::StoreError;
use crate::store::catalog::{self, ChildRow, HouseholdRow};

/// Most children in one household.
pub const MAX_CHILDREN: usize = 20;

/// A child in a new household.
pub struct NewChild {
    /// First name.
    pub first_name: String,
    /// Birth date.
    pub birth_date: NaiveDate,
}

/// A new household.
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

/// A household as created.
pub struct CreatedHousehold {
    /// The household.
    pub household: HouseholdRow,
    /// Its children.
    pub children: Vec<ChildRow>,
    /// The parent's personal link.
    pub parent_link: String,
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
        && e.len() <= 254
}

fn valid_phone(p: &str) -> bool {
    let digits = p.chars().filter(char::is_ascii_digit).count();
    (8..=15).contains(&digits) && p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))
}

/// The page address of a link token.
pub fn link_url(svc: &Services, token: &str) -> String {
    match &svc.public_url {
        Some(base) => format!("{}/tegoed/{token}", base.trim_end_matches('/')),
        None => format!("/tegoed/{token}"),
    }
}

/// The current personal link of a household (none after erasure).
pub fn parent_link(svc: &Services, h: &HouseholdRow) -> Option<String> {
    h.erased_at
        .is_none()
        .then(|| link_url(svc, &svc.links.token(h.id, h.link_generation)))
}

/// Registers a household and its children.
pub async fn create(svc: &Services, req: NewHousehold) -> Result<CreatedHousehold> {
    let reference = clean_text("reference", &req.reference, 100, true)?;
    let parent_name = clean_text("parent_name", &req.parent_name, 200, true)?;
    let email = match &req.email {
        Some(e) => clean_text("email", e, 254, false)?,
        None => None,
    };
    if email.as_deref().is_some_and(|e| !valid_email(e)) {
        return Err(Error::bad("invalid_email", "Dit e-mailadres klopt niet."));
    }
    let phone = match &req.phone {
        Some(p) => clean_text("phone", p, 30, false)?,
        None => None,
    };
    if phone.as_deref().is_some_and(|p| !valid_phone(p)) {
        return Err(Error::bad(
            "invalid_phone",
            "Dit telefoonnummer klopt niet.",
        ));
    }
    if req.children.is_empty() || req.children.len() > MAX_CHILDREN {
        return Err(Error::bad(
            "invalid_children",
            format!("Geef 1 tot {MAX_CHILDREN} kinderen op."),
        ));
    }
    let today = svc.today();
    let oldest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN);
    let household = HouseholdRow {
        id: Uuid::new_v4(),
        reference,
        parent_name,
        email,
        phone,
        link_generation: 0,
        erased_at: None,
    };
    let mut children = Vec::with_capacity(req.children.len());
    for c in &req.children {
        let first_name = clean_text("first_name", &c.first_name, 100, true)?;
        if c.birth_date > today || c.birth_date < oldest {
            return Err(Error::bad(
                "invalid_birth_date",
                "Deze geboortedatum kan niet kloppen.",
            ));
        }
        children.push(ChildRow {
            id: Uuid::new_v4(),
            household_id: household.id,
            first_name,
            birth_date: Some(c.birth_date),
        });
    }
    let token = svc.links.token(household.id, 0);
    let now = svc.now();
    let mut writes = vec![catalog::insert_household(
        &household,
        link_hash(&token),
        now,
    )];
    writes.extend(
        children
            .iter()
            .enumerate()
            .map(|(i, c)| catalog::insert_child(c, i as i64, now)),
    );
    match svc.store.execute_all(&writes).await {
        Ok(_) => {}
        Err(StoreError::Unique) => {
            return Err(Error::conflict(
                "reference_taken",
                "Er is al een huishouden met dit kenmerk.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let parent_link = link_url(svc, &token);
    Ok(CreatedHousehold {
        household,
        children,
        parent_link,
    })
}

/// Loads a household or answers 404.
pub async fn get(svc: &Services, id: Uuid) -> Result<HouseholdRow> {
    svc.store
        .household(id)
        .await?
        .ok_or_else(|| Error::not_found("unknown_household", "Dit huishouden bestaat niet."))
}

/// Erases names, contact data and birth dates (right to erasure) and revokes the personal
/// link. Ledger entries carry no personal data, so the ledger is untouched and still verifies.
pub async fn erase_personal_data(svc: &Services, id: Uuid) -> Result<()> {
    get(svc, id).await?;
    let mut writes = catalog::erase_household(id, svc.now());
    // Notes typed with the household's vouchers' entries (reasons for a block, a top-up).
    let vouchers = svc.store.household_vouchers(id).await?;
    {
        let state = svc.ledger.state().await;
        for v in &vouchers {
            writes.extend(state.history(&v.id).iter().map(|i| catalog::erase_note(*i)));
        }
    }
    svc.store.execute_all(&writes).await?;
    tracing::info!(household = %id, "personal data erased");
    Ok(())
}

/// Gives the household a new personal link; the old one stops working at once.
pub async fn renew_link(svc: &Services, id: Uuid) -> Result<String> {
    let h = get(svc, id).await?;
    if h.erased_at.is_some() {
        return Err(Error::rule(
            "personal_data_erased",
            "De gegevens van dit huishouden zijn gewist.",
        ));
    }
    let generation = h.link_generation + 1;
    let token = svc.links.token(id, generation);
    svc.store
        .execute_all(&[catalog::renew_link(id, generation, link_hash(&token))])
        .await?;
    Ok(link_url(svc, &token))
}

/// The household a personal link belongs to, if the link is current.
pub async fn by_link(svc: &Services, token: &str) -> Result<Option<HouseholdRow>> {
    if !super::links::plausible(token) {
        return Ok(None);
    }
    Ok(svc.store.household_by_link(&link_hash(token)).await?)
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
