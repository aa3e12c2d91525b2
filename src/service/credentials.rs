//! Passwords (argon2id) and session tokens. Only hashes are stored: the PHC string of a
//! password, the SHA-256 of a session token.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted.
pub const MAX_PASSWORD_CHARS: usize = 1000;

/// Whether a new password is acceptable: 10 to 1,000 characters, not only spaces, and no
/// control characters (a NUL or a line break could never be typed into a log-in form).
pub fn password_acceptable(password: &str) -> bool {
    (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&password.chars().count())
        && !password.chars().all(char::is_whitespace)
        && !password.chars().any(char::is_control)
}

/// A real argon2id hash with the default parameters (m=19456, t=2, p=1) of a password nobody
/// has. A log-in for an unknown name is checked against it, so that it takes as long as one
/// for a known name with a wrong password. It is a constant, so that there is no fallback that
/// could make unknown names answer faster.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$DReydRrBhwPVtBFGe6+g3Q$f4Fz++Nzb5by8tujRwrfCvulNI1ZoQk2xn4XGjx89Gk";

/// Why a password was not accepted or could not be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short or too long, only spaces, or with control characters.
    #[error(
        "een wachtwoord heeft {MIN_PASSWORD_CHARS} tot {MAX_PASSWORD_CHARS} tekens, niet alleen \
         spaties, en geen stuurtekens"
    )]
    Unacceptable,
    /// Hashing failed (no randomness).
    #[error("het wachtwoord kon niet worden opgeslagen")]
    Hash,
}

thread_local! {
    /// The argon2 working memory of this thread (19 MiB), kept for its next password. Fresh
    /// memory for every computation is not given back by the allocator: 400 log-ins at four at
    /// once left the server at 1.1 GB.
    static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs argon2 with this thread's working memory.
fn argon2_into(argon: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    MEMORY.with(|memory| {
        let Ok(mut memory) = memory.try_borrow_mut() else {
            return false;
        };
        let blocks = argon.params().block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        memory.get_mut(..blocks).is_some_and(|m| {
            argon
                .hash_password_into_with_memory(password, salt, out, m)
                .is_ok()
        })
    })
}

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if !password_acceptable(password) {
        return Err(PasswordError::Unacceptable);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| PasswordError::Hash)?;
    let argon = Argon2::default();
    let mut out = [0u8; 32];
    if !argon2_into(&argon, password.as_bytes(), &salt, &mut out) {
        return Err(PasswordError::Hash);
    }
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|_| PasswordError::Hash)?,
        salt: Some(Salt::new(&salt).map_err(|_| PasswordError::Hash)?),
        hash: Some(Output::new(&out).map_err(|_| PasswordError::Hash)?),
    };
    Ok(phc.to_string())
}

/// Checks a password against a stored PHC string (compared in constant time).
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(h) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (h.salt.as_ref(), h.hash.as_ref()) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(h.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = h.version.map_or(Ok(Version::default()), Version::try_from) else {
        return false;
    };
    let Ok(params) = Params::try_from(&h) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon, password.as_bytes(), salt.as_ref(), &mut out)
        && Output::new(&out).is_ok_and(|o| o == *expected)
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
        assert_eq!(hash_password("short"), Err(PasswordError::Unacceptable));
    }

    #[test]
    fn only_typeable_passwords_of_10_to_1000_characters_are_acceptable() {
        assert!(password_acceptable("correct horse"));
        assert!(password_acceptable(&"é".repeat(1000)));
        assert!(!password_acceptable(&"é".repeat(1001)));
        assert!(!password_acceptable("123456789"));
        assert!(!password_acceptable("          "));
        assert!(!password_acceptable("abc\0defghijkl"));
        assert!(!password_acceptable("abcdefghij\n"));
    }

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_hasher_and_verifier() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = hash_password("correct horse battery").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery")
            .unwrap()
            .to_string();
        assert!(verify_password("correct horse battery", &theirs));
        assert!(!verify_password("correct horse batterx", &theirs));
        // The working memory is reused: a second check on this thread allocates none.
        assert!(verify_password("correct horse battery", &ours));
        assert!(MEMORY.with(|m| m.borrow().len()) >= 19 * 1024);
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
