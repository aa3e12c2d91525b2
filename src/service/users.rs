//! The people who log in: adding a user (today from the command line, by the operator).

use uuid::Uuid;

use super::credentials::{self, PasswordError};
use super::{Actor, Error, Result};
use crate::core::role::Role;
use crate::store::users::NewUserRow;
use crate::store::{Store, StoreError};

/// A user to add.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name: 1 to 100 characters, no spaces.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The provider of a provider manager or cashier (and only of them).
    pub provider: Option<Uuid>,
    /// The password (at least 10 characters).
    pub password: String,
}

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddUserError {
    /// The name is empty, too long or holds spaces or control characters.
    #[error("a username has 1 to 100 characters and no spaces")]
    Username,
    /// A provider was given for a role that has none, or none for one that needs it.
    #[error("--provider is required for provider_manager and cashier, and only for them")]
    ProviderForRole,
    /// There is no provider with this id.
    #[error("there is no provider with id {0}")]
    UnknownProvider(Uuid),
    /// The name is taken.
    #[error("the username {0:?} is already taken")]
    Taken(String),
    /// The password is not acceptable.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// Anything else.
    #[error(transparent)]
    Service(#[from] Error),
}

impl From<StoreError> for AddUserError {
    fn from(e: StoreError) -> Self {
        AddUserError::Service(e.into())
    }
}

/// Adds a user. Only an admin (or the operator at the command line) may. It needs the store
/// only, not the ledger, so it works while the service runs.
pub async fn add(store: &Store, actor: &Actor, new: NewUser) -> Result<Uuid, AddUserError> {
    actor.require(&[Role::Admin])?;
    let name = new.username.as_str();
    if name.is_empty()
        || name.chars().count() > 100
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AddUserError::Username);
    }
    if new.role.is_provider_role() != new.provider.is_some() {
        return Err(AddUserError::ProviderForRole);
    }
    let password = new.password;
    let hash = tokio::task::spawn_blocking(move || credentials::hash_password(&password))
        .await
        .map_err(Error::internal)??;
    if let Some(p) = new.provider
        && store.provider(p).await?.is_none()
    {
        return Err(AddUserError::UnknownProvider(p));
    }
    let row = NewUserRow {
        username: name,
        role: new.role,
        provider_id: new.provider,
        password_hash: &hash,
    };
    match store.create_user(&row, chrono::Utc::now()).await {
        Ok(id) => Ok(id),
        Err(StoreError::Unique) => Err(AddUserError::Taken(new.username.clone())),
        Err(e) => Err(e.into()),
    }
}
