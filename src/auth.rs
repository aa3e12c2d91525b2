//! Roles, password hashing (argon2id), session tokens and the login attempt limiter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything staff and finance may, plus funds, providers and erasure.
    Admin,
    /// Leergeld intake: households, vouchers.
    Staff,
    /// Leergeld finance: deposits, direct payments, payouts.
    Finance,
    /// Reads everything, changes nothing.
    Auditor,
    /// Runs a provider's account: redemptions, reversals, volunteers.
    ProviderManager,
    /// A volunteer at a provider's till: looks up and redeems vouchers.
    Cashier,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Staff,
        Role::Finance,
        Role::Auditor,
        Role::ProviderManager,
        Role::Cashier,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Finance => "finance",
            Role::Auditor => "auditor",
            Role::ProviderManager => "provider_manager",
            Role::Cashier => "cashier",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// True when a user with this role may act as `required` (admin covers staff and finance).
    pub fn acts_as(self, required: Role) -> bool {
        self == required || (self == Role::Admin && matches!(required, Role::Staff | Role::Finance))
    }

    /// True for roles that belong to a provider.
    pub fn is_provider_role(self) -> bool {
        matches!(self, Role::ProviderManager | Role::Cashier)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Why a password was not accepted or could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short.
    #[error("het wachtwoord moet minstens {MIN_PASSWORD_CHARS} tekens hebben")]
    TooShort,
    /// Hashing failed (no randomness).
    #[error("het wachtwoord kon niet worden opgeslagen")]
    Hash,
}

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hash)
}

/// Checks a password against a stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A fixed hash to verify against when the user does not exist, so that the answer takes as
/// long for unknown names as for wrong passwords.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("no such user, no such password").unwrap_or_default())
}

/// A new random session token (256 bits, URL-safe base64).
pub fn new_token() -> Option<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).ok()?;
    Some(URL_SAFE_NO_PAD.encode(b))
}

/// What is stored for a token: its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Counts failed logins per user name and per client address, and refuses further attempts
/// for a while once there are too many.
pub struct LoginLimiter {
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    /// Counts failures per key within `window`; each check says how many a key may have.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait before trying again, if any key has reached its limit
    /// (`(key, max_failures)` pairs).
    pub fn retry_after(&self, keys: &[(String, u32)]) -> Option<u64> {
        let now = Instant::now();
        let map = self.failures.lock().ok()?;
        keys.iter()
            .filter_map(|(k, max)| map.get(k).map(|f| (f, *max)))
            .filter(|((n, since), max)| *n >= *max && now.duration_since(*since) < self.window)
            .map(|((_, since), _)| (self.window - now.duration_since(*since)).as_secs().max(1))
            .max()
    }

    /// Records a failed attempt for each key.
    pub fn failed(&self, keys: &[(String, u32)]) {
        let now = Instant::now();
        if let Ok(mut map) = self.failures.lock() {
            if map.len() > 100_000 {
                let window = self.window;
                map.retain(|_, (_, since)| now.duration_since(*since) < window);
            }
            for (k, _) in keys {
                let e = map.entry(k.clone()).or_insert((0, now));
                if now.duration_since(e.1) >= self.window {
                    *e = (0, now);
                }
                e.0 += 1;
            }
        }
    }

    /// Forgets the failures of one key after a successful login.
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_eq!(hash_password("short"), Err(PasswordError::TooShort));
    }

    #[test]
    fn admin_acts_as_staff_and_finance_but_not_as_provider_roles() {
        assert!(Role::Admin.acts_as(Role::Staff));
        assert!(Role::Admin.acts_as(Role::Finance));
        assert!(!Role::Admin.acts_as(Role::Cashier));
        assert!(!Role::Staff.acts_as(Role::Finance));
        assert!(!Role::Auditor.acts_as(Role::Staff));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn the_limiter_blocks_after_repeated_failures_and_forgets_on_success() {
        let l = LoginLimiter::new(Duration::from_secs(60));
        let keys = vec![("user:a@1".to_string(), 3), ("ip:1".to_string(), 10)];
        for _ in 0..3 {
            assert!(l.retry_after(&keys).is_none());
            l.failed(&keys);
        }
        assert!(l.retry_after(&keys).is_some_and(|s| s > 50 && s <= 60));
        // The address alone is still under its own, higher limit.
        assert!(l.retry_after(&[("ip:1".to_string(), 10)]).is_none());
        l.succeeded("user:a@1");
        assert!(l.retry_after(&keys).is_none());
    }
}
