//! Parents' personal links. A link token is 128 bits derived with HMAC-SHA256 from a server
//! secret, the household id and the link generation, so it is unguessable, can be shown again
//! (the same link for all of a household's vouchers), is stored only as its SHA-256, and is
//! revoked by bumping the generation. The secret's file lives with the keys (`keys.rs`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The server secret behind parent links.
pub struct LinkSecret([u8; 32]);

impl std::fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecret(..)")
    }
}

impl LinkSecret {
    /// The secret from its 32 bytes.
    pub fn from_bytes(raw: [u8; 32]) -> Self {
        Self(raw)
    }

    /// Loads the secret from the keys directory, creating it (mode 0600) when missing.
    pub fn load_or_create(dir: &std::path::Path) -> Result<Self, crate::keys::KeyError> {
        crate::keys::link_secret(dir).map(Self)
    }

    /// The link token of a household at a link generation (22 URL-safe characters).
    pub fn token(&self, household: Uuid, generation: i64) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"kindpakket parent link v1\0");
        mac.update(household.as_bytes());
        mac.update(&generation.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&tag[..16])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_the_hmac_of_household_and_generation() {
        // The same value as the hand-written HMAC this replaced gave (RFC 2104 over the same
        // message), so links handed out before stay valid.
        let s = LinkSecret::from_bytes([1; 32]);
        assert_eq!(s.token(Uuid::from_u128(5), 0), "E_mst1ge3Nn_uv1Mxuoo6w");
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
}
