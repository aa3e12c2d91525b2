//! Parents' personal links. A link token is 128 bits derived with HMAC-SHA256 from a server
//! secret, the household id and the link generation, so it is unguessable, can be shown again
//! (the same link for all of a household's vouchers), is stored only as its SHA-256, and is
//! revoked by bumping the generation.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The server secret behind parent links (32 random bytes in `<keys>/link-secret`, mode 0600).
pub struct LinkSecret([u8; 32]);

impl std::fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecret(..)")
    }
}

const FILE: &str = "link-secret";

impl LinkSecret {
    /// Loads the secret from the keys directory, creating it when missing.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let raw = URL_SAFE_NO_PAD
                    .decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("{} is not a link secret", path.display()),
                        )
                    })?;
                Ok(Self(raw))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                let mut raw = [0u8; 32];
                getrandom::fill(&mut raw).map_err(std::io::Error::other)?;
                let mut o = std::fs::OpenOptions::new();
                o.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    o.mode(0o600);
                }
                use std::io::Write;
                let mut f = o.open(&path)?;
                f.write_all(URL_SAFE_NO_PAD.encode(raw).as_bytes())?;
                f.sync_all()?;
                Ok(Self(raw))
            }
            Err(e) => Err(e),
        }
    }

    /// A fixed secret for tests.
    pub fn from_bytes(raw: [u8; 32]) -> Self {
        Self(raw)
    }

    /// The link token of a household at a link generation (22 URL-safe characters).
    pub fn token(&self, household: Uuid, generation: i64) -> String {
        let mut msg = b"kindpakket parent link v1\0".to_vec();
        msg.extend_from_slice(household.as_bytes());
        msg.extend_from_slice(&generation.to_be_bytes());
        let mac = hmac_sha256(&self.0, &msg);
        URL_SAFE_NO_PAD.encode(&mac[..16])
    }
}

/// What is stored for a link token.
pub fn link_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// True when the text could be a link token (22 URL-safe base64 characters).
pub fn plausible(token: &str) -> bool {
    token.len() == 22
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            crate::core::note::hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn links_are_stable_per_generation_and_change_when_revoked() {
        let s = LinkSecret::from_bytes([1; 32]);
        let h = Uuid::from_u128(5);
        let a = s.token(h, 0);
        assert_eq!(a, s.token(h, 0));
        assert_ne!(a, s.token(h, 1));
        assert_ne!(a, s.token(Uuid::from_u128(6), 0));
        assert!(plausible(&a), "{a}");
        assert_ne!(a, LinkSecret::from_bytes([2; 32]).token(h, 0));
    }

    #[test]
    fn the_secret_file_is_private_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let a = LinkSecret::load_or_create(dir.path()).unwrap();
        let b = LinkSecret::load_or_create(dir.path()).unwrap();
        assert_eq!(a.token(Uuid::nil(), 0), b.token(Uuid::nil(), 0));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(dir.path().join(FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(m & 0o777, 0o600);
        }
    }
}
