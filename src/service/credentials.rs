//! Passwords (argon2id) and session tokens. Only hashes are stored: the PHC string of a
//! password, the SHA-256 of a session token.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A real argon2id hash with the default parameters (m=19456, t=2, p=1) of a password nobody
/// has. A log-in for an unknown name is checked against it, so that it takes as long as one
/// for a known name with a wrong password. It is a constant, so that there is no fallback that
/// could make unknown names answer faster.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$DReydRrBhwPVtBFGe6+g3Q$f4Fz++Nzb5by8tujRwrfCvulNI1ZoQk2xn4XGjx89Gk";

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
    fn the_dummy_hash_costs_as_much_as_a_real_one() {
        let dummy = PasswordHash::new(DUMMY_HASH).unwrap();
        let real = hash_password("correct horse battery").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        // Same algorithm, version and cost parameters as every stored password.
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert!(dummy.hash.is_some());
        assert!(verify_password(
            "no such user, no such password",
            DUMMY_HASH
        ));
        assert!(!verify_password("anything else", DUMMY_HASH));
    }
}
