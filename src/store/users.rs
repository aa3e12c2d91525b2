//! Users and login sessions.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::with_db;

/// A stored user (without the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Id.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Role name (see `crate::auth::Role`).
    pub role: String,
    /// The provider a provider manager or cashier works for.
    pub provider_id: Option<Uuid>,
}

impl Store {
    /// Creates a user; `Err(StoreError::Unique)` when the name is taken.
    pub async fn create_user(
        &self,
        username: &str,
        role: &str,
        provider_id: Option<Uuid>,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Uuid, StoreError> {
        const SQL: &str = "INSERT INTO users (id, username, role, provider_id, password_hash, created_at) \
                           VALUES ($1, $2, $3, $4, $5, $6)";
        let id = Uuid::new_v4();
        with_db!(self.db(), |p| {
            sqlx::query(SQL)
                .bind(id)
                .bind(username.to_owned())
                .bind(role.to_owned())
                .bind(provider_id)
                .bind(password_hash.to_owned())
                .bind(now)
                .execute(p)
                .await
                .map_err(StoreError::classify)?;
        });
        Ok(id)
    }

    /// A user and their password hash, by login name.
    pub async fn user_by_name(
        &self,
        username: &str,
    ) -> Result<Option<(UserRow, String)>, StoreError> {
        const SQL: &str =
            "SELECT id, username, role, provider_id, password_hash FROM users WHERE username = $1";
        let row = with_db!(self.db(), |p| {
            match sqlx::query(SQL)
                .bind(username.to_owned())
                .fetch_optional(p)
                .await?
            {
                None => None,
                Some(r) => Some((
                    UserRow {
                        id: r.try_get(0)?,
                        username: r.try_get(1)?,
                        role: r.try_get(2)?,
                        provider_id: r.try_get(3)?,
                    },
                    r.try_get::<String, _>(4)?,
                )),
            }
        });
        Ok(row)
    }

    /// Stores a session by the hash of its token.
    pub async fn create_session(
        &self,
        token_hash: &[u8],
        user_id: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
                           VALUES ($1, $2, $3, $4)";
        with_db!(self.db(), |p| {
            sqlx::query(SQL)
                .bind(token_hash.to_vec())
                .bind(user_id)
                .bind(now)
                .bind(expires_at)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// The user of a session that has not expired.
    pub async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<(UserRow, DateTime<Utc>)>, StoreError> {
        const SQL: &str = "SELECT u.id, u.username, u.role, u.provider_id, s.expires_at \
                           FROM sessions s JOIN users u ON u.id = s.user_id \
                           WHERE s.token_hash = $1 AND s.expires_at > $2";
        let row = with_db!(self.db(), |p| {
            match sqlx::query(SQL)
                .bind(token_hash.to_vec())
                .bind(now)
                .fetch_optional(p)
                .await?
            {
                None => None,
                Some(r) => Some((
                    UserRow {
                        id: r.try_get(0)?,
                        username: r.try_get(1)?,
                        role: r.try_get(2)?,
                        provider_id: r.try_get(3)?,
                    },
                    r.try_get::<DateTime<Utc>, _>(4)?,
                )),
            }
        });
        Ok(row)
    }

    /// Ends a session.
    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        with_db!(self.db(), |p| {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash.to_vec())
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Removes expired sessions.
    pub async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let n = with_db!(self.db(), |p| {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n)
    }
}
