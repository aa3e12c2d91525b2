//! Users and login sessions.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::pool::{Store, StoreError, fetch_all, fetch_optional};
use crate::core::role::Role;

/// A stored user (without the password hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    /// Id.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The provider a provider manager or cashier works for.
    pub provider_id: Option<Uuid>,
    /// When the user was disabled (a disabled user cannot log in).
    pub disabled_at: Option<DateTime<Utc>>,
    /// When the user's two-factor log-in counts (enrolled and confirmed).
    pub totp_enabled_at: Option<DateTime<Utc>>,
}

/// A user with their password hash, for checking a log-in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    /// The user.
    #[sqlx(flatten)]
    pub user: UserRow,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// The TOTP secret (set at enrolment).
    pub totp_secret: Option<Vec<u8>>,
    /// The last TOTP step a code was accepted for.
    pub totp_last_step: Option<i64>,
    /// Wrong second factors in a row since the last right one.
    pub totp_failures: i64,
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUserRow<'a> {
    /// Login name.
    pub username: &'a str,
    /// Role.
    pub role: Role,
    /// Provider of a provider manager or cashier.
    pub provider_id: Option<Uuid>,
    /// Argon2id PHC string.
    pub password_hash: &'a str,
}

impl Store {
    /// Creates a user; `Err(StoreError::Unique)` when the name is taken.
    pub async fn create_user(
        &self,
        new: &NewUserRow<'_>,
        now: DateTime<Utc>,
    ) -> Result<Uuid, StoreError> {
        const SQL: &str = "INSERT INTO users (id, username, role, provider_id, password_hash, created_at) \
                           VALUES ($1, $2, $3, $4, $5, $6)";
        let id = Uuid::new_v4();
        self.count_query();
        crate::with_db!(self.db(), |p| {
            sqlx::query(SQL)
                .bind(id)
                .bind(new.username.to_owned())
                .bind(new.role.as_str())
                .bind(new.provider_id)
                .bind(new.password_hash.to_owned())
                .bind(now)
                .execute(p)
                .await
                .map_err(StoreError::classify)?;
        });
        Ok(id)
    }

    /// A user and their password hash, by login name; none for a disabled user.
    pub async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        const SQL: &str = "SELECT id, username, role, provider_id, disabled_at, totp_enabled_at, password_hash, totp_secret, totp_last_step, totp_failures FROM users \
             WHERE username = $1 AND disabled_at IS NULL";
        Ok(fetch_optional!(
            self,
            Credentials,
            SQL,
            [username.to_owned()]
        ))
    }

    /// Stores a session by the hash of its token, only while the user is enabled and still has
    /// the password hash that was checked: a log-in in flight while the password is reset or
    /// the user disabled opens no session; and, unless its second factor was checked, only
    /// while the user has no two-factor log-in (one enabled while the password was being
    /// checked is not bypassed). Returns whether it was stored.
    pub async fn create_session(
        &self,
        token_hash: &[u8],
        user_id: Uuid,
        password_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        second_factor_checked: bool,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
                           SELECT $1, id, $3, $4 FROM users \
                           WHERE id = $2 AND password_hash = $5 AND disabled_at IS NULL \
                           AND (totp_enabled_at IS NULL OR $6)";
        // On PostgreSQL the user's row is read with a share lock: a reset or a confirmation
        // that changed it but has not committed yet is waited for, and the condition is
        // checked again on what it committed (without the lock the insert would see the old
        // row and store a session that transaction's `DELETE FROM sessions` had already
        // passed). SQLite has one writer at a time, so the row cannot change under it.
        const SQL_PG: &str = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
                              SELECT $1, id, $3, $4 FROM users \
                              WHERE id = $2 AND password_hash = $5 AND disabled_at IS NULL \
                              AND (totp_enabled_at IS NULL OR $6) FOR SHARE";
        let sql = if self.is_sqlite() { SQL } else { SQL_PG };
        self.count_query();
        let done = crate::with_db!(self.db(), |p| {
            sqlx::query(sql)
                .bind(token_hash.to_vec())
                .bind(user_id)
                .bind(now)
                .bind(expires_at)
                .bind(password_hash)
                .bind(second_factor_checked)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// The user of a session that has not expired, when the user is not disabled.
    pub async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<UserRow>, StoreError> {
        const SQL: &str = "SELECT u.id, u.username, u.role, u.provider_id, u.disabled_at, u.totp_enabled_at \
                           FROM sessions s JOIN users u ON u.id = s.user_id \
                           WHERE s.token_hash = $1 AND s.expires_at > $2 \
                           AND u.disabled_at IS NULL";
        Ok(fetch_optional!(
            self,
            UserRow,
            SQL,
            [token_hash.to_vec(), now]
        ))
    }

    /// Ends a session; true when there was one.
    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<bool, StoreError> {
        self.count_query();
        let n = crate::with_db!(self.db(), |p| {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash.to_vec())
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Removes expired sessions.
    pub async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.count_query();
        let n = crate::with_db!(self.db(), |p| {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n)
    }

    /// A user by id.
    pub async fn user(&self, id: Uuid) -> Result<Option<UserRow>, StoreError> {
        const SQL: &str = "SELECT id, username, role, provider_id, disabled_at, totp_enabled_at FROM users WHERE id = $1";
        Ok(fetch_optional!(self, UserRow, SQL, [id]))
    }

    /// A user by login name.
    pub async fn user_named(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        const SQL: &str = "SELECT id, username, role, provider_id, disabled_at, totp_enabled_at FROM users WHERE username = $1";
        Ok(fetch_optional!(self, UserRow, SQL, [username.to_owned()]))
    }

    /// A user and their password hash, by id (also when disabled).
    pub async fn credentials_of(&self, id: Uuid) -> Result<Option<Credentials>, StoreError> {
        const SQL: &str = "SELECT id, username, role, provider_id, disabled_at, totp_enabled_at, password_hash, totp_secret, totp_last_step, totp_failures \
                           FROM users WHERE id = $1";
        Ok(fetch_optional!(self, Credentials, SQL, [id]))
    }

    /// Every user, or those of one provider, by name.
    pub async fn users(&self, provider: Option<Uuid>) -> Result<Vec<UserRow>, StoreError> {
        Ok(match provider {
            None => fetch_all!(
                self,
                UserRow,
                "SELECT id, username, role, provider_id, disabled_at, totp_enabled_at FROM users ORDER BY username",
                []
            ),
            Some(p) => fetch_all!(
                self,
                UserRow,
                "SELECT id, username, role, provider_id, disabled_at, totp_enabled_at FROM users \
                 WHERE provider_id = $1 ORDER BY username",
                [p]
            ),
        })
    }

    /// Disables (`Some(when)`) or enables (`None`) a user; false when there is none.
    pub async fn set_disabled(
        &self,
        id: Uuid,
        at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        self.count_query();
        let n = crate::with_db!(self.db(), |p| {
            sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Stores a new password hash; false when there is no such user.
    pub async fn set_password_hash(&self, id: Uuid, hash: &str) -> Result<bool, StoreError> {
        self.count_query();
        let n = crate::with_db!(self.db(), |p| {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(hash.to_owned())
                .bind(id)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    /// Ends every session of a user, except the one with `keep` (the caller's own); how many.
    pub async fn delete_sessions_of(
        &self,
        user: Uuid,
        keep: Option<&[u8]>,
    ) -> Result<u64, StoreError> {
        self.count_query();
        let keep = keep.map(<[u8]>::to_vec).unwrap_or_default();
        let n = crate::with_db!(self.db(), |p| {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user)
                .bind(keep)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n)
    }

    /// How many users, funds, providers and households there are in all: zero for a database
    /// nobody has used yet.
    pub async fn records(&self) -> Result<i64, StoreError> {
        self.count_query();
        let n: i64 = crate::with_db!(self.db(), |p| {
            sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM funds) \
                 + (SELECT COUNT(*) FROM providers) + (SELECT COUNT(*) FROM households)",
            )
            .fetch_one(p)
            .await?
        });
        Ok(n)
    }

    /// Starts an enrolment: a new secret, not yet counting; replaces an unconfirmed one. Only
    /// while two-factor log-in is not on (an enrolment racing a confirmation cannot turn it
    /// off): false when it is.
    pub async fn set_pending_totp(&self, user: Uuid, secret: &[u8]) -> Result<bool, StoreError> {
        self.count_query();
        let n = crate::with_db!(self.db(), |p| {
            sqlx::query(
                "UPDATE users SET totp_secret = $1, totp_last_step = NULL, totp_failures = 0 \
                 WHERE id = $2 AND totp_enabled_at IS NULL",
            )
            .bind(secret.to_vec())
            .bind(user)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Accepts a TOTP step for a user when it is later than the last one accepted (a code is
    /// good once, even with two log-ins racing); true when accepted.
    pub async fn use_totp_step(&self, user: Uuid, step: i64) -> Result<bool, StoreError> {
        self.count_query();
        let n = crate::with_db!(self.db(), |p| {
            sqlx::query(
                "UPDATE users SET totp_last_step = $1 \
                 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
            )
            .bind(step)
            .bind(user)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Confirms an enrolment: two-factor log-in counts from now, with new recovery codes
    /// (their hashes) replacing any old ones, and every session of the user but `keep` ends
    /// (they were opened with the password alone). Only while the secret is still the one
    /// that was checked and it is not on yet (two confirmations racing: the second changes
    /// nothing): false otherwise.
    pub async fn enable_totp(
        &self,
        user: Uuid,
        secret: &[u8],
        at: DateTime<Utc>,
        recovery_hashes: &[Vec<u8>],
        keep: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        self.count_query();
        let done = crate::with_db!(self.db(), |p| {
            let mut tx = p.begin().await?;
            let n = sqlx::query(
                "UPDATE users SET totp_enabled_at = $1, totp_failures = 0 \
                 WHERE id = $2 AND totp_enabled_at IS NULL AND totp_secret = $3",
            )
            .bind(at)
            .bind(user)
            .bind(secret.to_vec())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                for h in recovery_hashes {
                    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                        .bind(user)
                        .bind(h.clone())
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                    .bind(user)
                    .bind(keep.map(<[u8]>::to_vec).unwrap_or_default())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            n == 1
        });
        Ok(done)
    }

    /// After a lock of two-factor log-in (someone who knew the password guessed codes), in one
    /// transaction: a new password, the count of wrong codes back to zero, every session ended;
    /// and with `remove` (a lost phone) the secret and the recovery codes gone as well, so the
    /// user sets it up again. Returns whether the user exists.
    pub async fn reset_second_factor(
        &self,
        user: Uuid,
        password_hash: &str,
        remove: bool,
    ) -> Result<bool, StoreError> {
        self.count_query();
        let found = crate::with_db!(self.db(), |p| {
            let mut tx = p.begin().await?;
            let sql = if remove {
                "UPDATE users SET password_hash = $1, totp_failures = 0, totp_secret = NULL, \
                 totp_enabled_at = NULL, totp_last_step = NULL WHERE id = $2"
            } else {
                "UPDATE users SET password_hash = $1, totp_failures = 0 WHERE id = $2"
            };
            let n = sqlx::query(sql)
                .bind(password_hash.to_owned())
                .bind(user)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if remove {
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            n == 1
        });
        Ok(found)
    }

    /// Counts a second-factor attempt before it is checked; how many there are now in a row.
    pub async fn count_second_factor_attempt(&self, user: Uuid) -> Result<i64, StoreError> {
        #[derive(sqlx::FromRow)]
        struct N {
            totp_failures: i64,
        }
        let n = fetch_optional!(
            self,
            N,
            "UPDATE users SET totp_failures = totp_failures + 1 WHERE id = $1 \
             RETURNING totp_failures",
            [user]
        );
        n.map(|n| n.totp_failures)
            .ok_or_else(|| StoreError::Corrupt(format!("no user {user}")))
    }

    /// A right second factor: the count of wrong ones in a row starts again.
    pub async fn second_factor_succeeded(&self, user: Uuid) -> Result<(), StoreError> {
        self.count_query();
        crate::with_db!(self.db(), |p| {
            sqlx::query("UPDATE users SET totp_failures = 0 WHERE id = $1")
                .bind(user)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Uses a recovery code (by its hash); true when it existed and was unused.
    pub async fn use_recovery_code(
        &self,
        user: Uuid,
        hash: &[u8],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.count_query();
        let n = crate::with_db!(self.db(), |p| {
            sqlx::query(
                "UPDATE recovery_codes SET used_at = $1 \
                 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
            )
            .bind(at)
            .bind(user)
            .bind(hash.to_vec())
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }
}
