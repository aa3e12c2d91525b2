//! Providers (aanbieders): sport clubs, music schools, shops. Created with their Chamber of
//! Commerce (KvK) number and IBAN; approved per fund and category in [`super::funds`].

use uuid::Uuid;

use super::error::{Conflict, Invalid, Missing};
use super::{Actor, Error, Input, Result, Services, required_text};
use crate::core::category::CategorySet;
use crate::core::iban::{Iban, Kvk};
use crate::core::role::Role;
pub use crate::store::providers::ProviderRow;
use crate::store::{Change, StoreError};

/// A new provider, as typed.
#[derive(Debug, Clone)]
pub struct NewProvider {
    /// Name.
    pub name: String,
    /// KvK number.
    pub kvk: String,
    /// IBAN.
    pub iban: String,
    /// Category names offered.
    pub categories: Vec<String>,
}

/// Creates a provider (admin).
pub async fn create(
    svc: &Services,
    actor: &Actor,
    input: Input<NewProvider>,
) -> Result<ProviderRow> {
    actor.require(&[Role::Admin])?;
    let req = input.read()?;
    let name = required_text("name", &req.name, 200)?;
    let kvk = Kvk::parse(&req.kvk).ok_or(Error::Invalid(Invalid::Kvk))?;
    let iban = Iban::parse(&req.iban).ok_or(Error::Invalid(Invalid::Iban))?;
    let categories = CategorySet::parse_names(&req.categories)
        .map_err(|e| Error::Invalid(Invalid::Categories(e)))?;
    let row = ProviderRow {
        id: Uuid::new_v4(),
        name,
        kvk,
        iban,
        categories,
    };
    match svc
        .store()
        .apply(&[Change::InsertProvider {
            provider: row.clone(),
            at: svc.now(),
        }])
        .await
    {
        Ok(()) => Ok(row),
        Err(StoreError::Unique) => Err(Conflict::Exists.into()),
        Err(e) => Err(e.into()),
    }
}

/// A provider: for Leergeld and auditors, and for the provider's own users.
pub async fn get(svc: &Services, actor: &Actor, id: Uuid) -> Result<ProviderRow> {
    let own =
        matches!(actor, Actor::User(u) if u.role.is_provider_role() && u.provider == Some(id));
    if !own {
        actor.require(&[Role::Staff, Role::Finance, Role::Auditor])?;
    }
    svc.store()
        .provider(id)
        .await?
        .ok_or(Error::NotFound(Missing::Provider))
}

/// The club of a cashier or provider manager (for the kassa and club pages).
pub async fn mine(svc: &Services, actor: &Actor) -> Result<ProviderRow> {
    let (_, provider) = actor.require_provider(&[Role::Cashier, Role::ProviderManager])?;
    svc.store()
        .provider(provider)
        .await?
        .ok_or(Error::NotFound(Missing::Provider))
}

/// Every provider, by name (Leergeld and auditors).
pub async fn list(svc: &Services, actor: &Actor) -> Result<Vec<ProviderRow>> {
    actor.require(&[Role::Staff, Role::Finance, Role::Auditor])?;
    Ok(svc.store().providers().await?)
}
