//! The people who log in: adding a user (today from the command line, by the operator).

use uuid::Uuid;

use super::actor::User;
use super::credentials::{self, PasswordError};
use super::error::{Invalid, Missing, Rule, Unavailable};
use super::{Actor, Error, Input, Result, Services};
use crate::core::role::Role;
use crate::store::users::{NewUserRow, UserRow};
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

/// Adds a user. An admin (or the operator at the command line) may add anyone; a provider
/// manager only a cashier of the own club. It needs the store only, not the ledger, so it works
/// while the service runs.
pub async fn add(store: &Store, actor: &Actor, new: NewUser) -> Result<Uuid, AddUserError> {
    let me = actor.require(&[Role::Admin, Role::ProviderManager])?;
    if !me.role.acts_as(Role::Admin)
        && (new.role != Role::Cashier || me.provider.is_none() || new.provider != me.provider)
    {
        return Err(AddUserError::Service(Error::Forbidden));
    }
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

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = credentials::MIN_PASSWORD_CHARS;
/// Longest password accepted.
pub const MAX_PASSWORD_CHARS: usize = credentials::MAX_PASSWORD_CHARS;

/// A user as shown to those who manage users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    /// Id.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The provider of a provider manager or cashier.
    pub provider_id: Option<Uuid>,
    /// True when the user cannot log in.
    pub disabled: bool,
    /// True when the user set up two-factor log-in.
    pub two_factor: bool,
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> Self {
        UserView {
            id: u.id,
            username: u.username,
            role: u.role,
            provider_id: u.provider_id,
            disabled: u.disabled_at.is_some(),
            two_factor: u.totp_enabled_at.is_some(),
        }
    }
}

/// Who may manage users: an admin any user; a provider manager the cashiers of the own club.
/// A user that is not the actor's to manage is reported as not existing.
async fn manageable(store: &Store, actor: &Actor, id: Uuid) -> Result<(User, UserRow)> {
    let me = actor.require(&[Role::Admin, Role::ProviderManager])?;
    let target = store
        .user(id)
        .await?
        .ok_or(Error::NotFound(Missing::User))?;
    let mine = me.role.acts_as(Role::Admin)
        || (target.role == Role::Cashier
            && target.provider_id.is_some()
            && target.provider_id == me.provider);
    if !mine {
        return Err(Error::NotFound(Missing::User));
    }
    Ok((me, target))
}

/// The users an actor manages: all for an admin, the own club's users for a provider manager.
pub async fn list_in(store: &Store, actor: &Actor) -> Result<Vec<UserView>> {
    let me = actor.require(&[Role::Admin, Role::ProviderManager])?;
    let rows = if me.role.acts_as(Role::Admin) {
        store.users(None).await?
    } else {
        match me.provider {
            Some(p) => store.users(Some(p)).await?,
            None => Vec::new(),
        }
    };
    Ok(rows.into_iter().map(UserView::from).collect())
}

/// Disables a user: no more log-ins, and every session ends at once.
pub async fn disable_in(store: &Store, actor: &Actor, id: Uuid) -> Result<UserView> {
    let (me, target) = manageable(store, actor, id).await?;
    if me.id == target.id {
        return Err(Rule::OwnAccount.into());
    }
    let now = chrono::Utc::now();
    if target.disabled_at.is_none() {
        store.set_disabled(id, Some(now)).await?;
    }
    let ended = store.delete_sessions_of(id, None).await?;
    tracing::info!(user = %target.username, by = %me.id, sessions = ended, "user disabled");
    Ok(UserView {
        disabled: true,
        ..target.into()
    })
}

/// Lets a disabled user log in again (an admin only: a provider manager must not undo what
/// Leergeld decided).
pub async fn enable_in(store: &Store, actor: &Actor, id: Uuid) -> Result<UserView> {
    actor.require(&[Role::Admin])?;
    let (me, target) = manageable(store, actor, id).await?;
    store.set_disabled(id, None).await?;
    tracing::info!(user = %target.username, by = %me.id, "user enabled");
    Ok(UserView {
        disabled: false,
        ..target.into()
    })
}

/// Sets a new password for someone else (a reset by an admin, or by a provider manager for a
/// cashier of the own club); every session of that user ends.
pub async fn reset_password(
    svc: &Services,
    actor: &Actor,
    id: Uuid,
    input: Input<String>,
) -> Result<()> {
    let store = svc.store();
    let (me, target) = manageable(store, actor, id).await?;
    let password = input.read()?;
    let hash = hash_in_pool(svc, password).await?;
    store.set_password_hash(id, &hash).await?;
    let ended = store.delete_sessions_of(id, None).await?;
    tracing::info!(user = %target.username, by = %me.id, sessions = ended, "password reset");
    Ok(())
}

/// A password change by its owner.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    /// The password now.
    pub current_password: String,
    /// The new one (at least 10 characters).
    pub new_password: String,
}

/// Changes the actor's own password, after checking the current one; every other session of
/// the user ends (the one making the change, `session_token`, stays).
pub async fn change_own_password(
    svc: &Services,
    actor: &Actor,
    session_token: Option<&str>,
    input: Input<PasswordChange>,
) -> Result<()> {
    let me = actor.require(&Role::ALL)?;
    let change = input.read()?;
    let store = svc.store();
    let found = store
        .credentials_of(me.id)
        .await?
        .ok_or(Error::NotFound(Missing::User))?;
    // Guessing the current password with a stolen session is limited like a log-in: five
    // tries per 15 minutes, counted before the check.
    let key = format!("password-change:{}", me.id);
    let attempt = svc
        .limiter()
        .begin(&[(key.clone(), super::login_limit::Limit::Refuse(5))])
        .map_err(|retry_after| Error::TooManyAttempts { retry_after })?;
    if change.current_password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(Rule::WrongPassword.into());
    }
    let right =
        match super::sessions::check_password(svc, change.current_password, found.password_hash)
            .await
        {
            Ok(right) => right,
            Err(e) => {
                attempt.cancel();
                return Err(e);
            }
        };
    if !right {
        return Err(Rule::WrongPassword.into());
    }
    attempt.succeeded(&key);
    let hash = hash_in_pool(svc, change.new_password).await?;
    store.set_password_hash(me.id, &hash).await?;
    let keep = session_token.map(credentials::token_hash);
    let ended = store.delete_sessions_of(me.id, keep.as_deref()).await?;
    tracing::info!(user = %found.user.username, sessions = ended, "password changed");
    Ok(())
}

/// Ends every session of a user (an admin; a provider manager for the own club's cashiers; or
/// a user for themself: "log out everywhere"). How many ended.
pub async fn revoke_sessions_in(store: &Store, actor: &Actor, id: Uuid) -> Result<u64> {
    let me = actor.require(&Role::ALL)?;
    if me.id != id {
        manageable(store, actor, id).await?;
    }
    let ended = store.delete_sessions_of(id, None).await?;
    tracing::info!(user = %id, by = %me.id, sessions = ended, "sessions revoked");
    Ok(ended)
}

/// What an admin does about someone's two-factor log-in. Both come with a new password: a
/// lock means someone who knew the password guessed codes, and a lost phone may be in anyone's
/// hands; the new password goes to the user after checking who asks, outside this system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorReset {
    /// Lift a lock (too many wrong codes) and keep the app the user has.
    Unlock,
    /// Turn it off (a lost phone and lost recovery codes): the user sets it up again at the
    /// next log-in (required again when `--require-2fa` is on).
    Remove,
}

/// Unlocks or turns off a user's two-factor log-in (an admin only), with a new password, in
/// one transaction that also ends every session of that user.
pub async fn reset_second_factor(
    svc: &Services,
    actor: &Actor,
    id: Uuid,
    what: SecondFactorReset,
    input: Input<String>,
) -> Result<UserView> {
    actor.require(&[Role::Admin])?;
    let store = svc.store();
    let (me, target) = manageable(store, actor, id).await?;
    let password = input.read()?;
    let current = before_second_factor_reset(store, &target, &password).await?;
    if super::sessions::check_password(svc, password.clone(), current).await? {
        return Err(Rule::PasswordUnchanged.into());
    }
    let hash = hash_in_pool(svc, password).await?;
    second_factor_reset(store, &me, target, what, &hash).await
}

/// [`reset_second_factor`] from the command line (the operator; it works while the service
/// runs).
pub async fn reset_second_factor_by_operator(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    what: SecondFactorReset,
    password: String,
) -> Result<UserView> {
    actor.require(&[Role::Admin])?;
    let (me, target) = manageable(store, actor, id).await?;
    let current = before_second_factor_reset(store, &target, &password).await?;
    let same = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || credentials::verify_password(&password, &current))
            .await
            .map_err(Error::internal)?
    };
    if same {
        return Err(Rule::PasswordUnchanged.into());
    }
    let hash = hash_by_operator(password).await?;
    second_factor_reset(store, &me, target, what, &hash).await
}

/// The checks before an unlock or reset of two-factor log-in: it must be on, and the new
/// password acceptable. Returns the current password hash (the new one must differ).
async fn before_second_factor_reset(
    store: &Store,
    target: &UserRow,
    password: &str,
) -> Result<String> {
    if target.totp_enabled_at.is_none() {
        return Err(Rule::TwoFactorOff.into());
    }
    if !credentials::password_acceptable(password) {
        return Err(Error::Invalid(Invalid::Password));
    }
    Ok(store
        .credentials_of(target.id)
        .await?
        .ok_or(Error::NotFound(Missing::User))?
        .password_hash)
}

async fn second_factor_reset(
    store: &Store,
    me: &User,
    target: UserRow,
    what: SecondFactorReset,
    hash: &str,
) -> Result<UserView> {
    let remove = what == SecondFactorReset::Remove;
    if !store.reset_second_factor(target.id, hash, remove).await? {
        return Err(Error::NotFound(Missing::User));
    }
    tracing::warn!(user = %target.username, by = %me.id, ?what, "two-factor log-in reset with a new password");
    Ok(UserView {
        two_factor: !remove,
        ..target.into()
    })
}

/// A user by login name, for the operator's commands.
pub async fn named(store: &Store, actor: &Actor, username: &str) -> Result<UserView> {
    actor.require(&[Role::Admin])?;
    store
        .user_named(username)
        .await?
        .map(UserView::from)
        .ok_or(Error::NotFound(Missing::User))
}

/// Hashes a new password on the password threads (argon2 takes 19 MiB).
async fn hash_in_pool(svc: &Services, password: String) -> Result<String> {
    if !credentials::password_acceptable(&password) {
        return Err(Error::Invalid(Invalid::Password));
    }
    svc.password_pool()
        .run(svc.settings().password_check_wait, move || {
            credentials::hash_password(&password)
        })
        .await
        .map_err(|_| Error::Unavailable(Unavailable::LoginBusy))?
        .map_err(|_| Error::bug("a password could not be hashed"))
}

/// Sets a new password from the command line (the operator), ending every session of the user.
pub async fn set_password_by_operator(
    store: &Store,
    actor: &Actor,
    id: Uuid,
    password: String,
) -> Result<()> {
    manageable(store, actor, id).await?;
    let hash = hash_by_operator(password).await?;
    store.set_password_hash(id, &hash).await?;
    store.delete_sessions_of(id, None).await?;
    Ok(())
}

/// Hashes a password set at the command line (no password threads there).
async fn hash_by_operator(password: String) -> Result<String> {
    if !credentials::password_acceptable(&password) {
        return Err(Error::Invalid(Invalid::Password));
    }
    tokio::task::spawn_blocking(move || credentials::hash_password(&password))
        .await
        .map_err(Error::internal)?
        .map_err(|_| Error::bug("a password could not be hashed"))
}

/// Adds a user (see [`add`]).
pub async fn add_user(svc: &Services, actor: &Actor, new: NewUser) -> Result<Uuid, AddUserError> {
    add(svc.store(), actor, new).await
}

/// The users an actor manages (see [`list_in`]).
pub async fn list(svc: &Services, actor: &Actor) -> Result<Vec<UserView>> {
    list_in(svc.store(), actor).await
}

/// Disables a user (see [`disable_in`]).
pub async fn disable(svc: &Services, actor: &Actor, id: Uuid) -> Result<UserView> {
    disable_in(svc.store(), actor, id).await
}

/// Enables a user (see [`enable_in`]).
pub async fn enable(svc: &Services, actor: &Actor, id: Uuid) -> Result<UserView> {
    enable_in(svc.store(), actor, id).await
}

/// Ends every session of a user (see [`revoke_sessions_in`]).
pub async fn revoke_sessions(svc: &Services, actor: &Actor, id: Uuid) -> Result<u64> {
    revoke_sessions_in(svc.store(), actor, id).await
}
