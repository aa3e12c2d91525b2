//! The `KP1:` voucher token: 91 signed bytes in uppercase base32, printed as a QR code.
//!
//! ```text
//! off len field
//!   0   1 format      0x01
//!   1   4 key id      SHA-256(voucher public key)[:4]
//!   5  16 voucher     voucher UUID (never on the ledger: its ledger account is another, random id)
//!  21   4 expiry      u32 Unix seconds; invalid at and after this instant
//!  25   1 categories  category mask
//!  26   1 generation  bumped when a lost voucher is blocked and reissued
//!  27  64 signature   Ed25519 over "KINDPAKKET-VOUCHER-V1\0" || bytes[0..27]
//! ```
//! Text: `KP1:` + RFC 4648 base32 without padding = 150 characters, all in the QR alphanumeric set.

use data_encoding::BASE32_NOPAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::category::CategorySet;

/// Token format byte.
pub const FORMAT: u8 = 0x01;
/// Text prefix.
pub const PREFIX: &str = "KP1:";
/// Length of the binary token.
pub const TOKEN_BYTES: usize = 91;
/// Length of the text form.
pub const TOKEN_CHARS: usize = 150;
/// Domain-separation prefix of the signed message.
pub const SIGNING_CONTEXT: &[u8] = b"KINDPAKKET-VOUCHER-V1\0";

/// Why a token text or byte string is refused. Each reason has its own stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Does not start with `KP1:`.
    #[error("token does not start with KP1:")]
    Prefix,
    /// Not exactly 150 characters.
    #[error("token has the wrong length")]
    Length,
    /// A character outside A–Z and 2–7.
    #[error("token contains a character outside the base32 alphabet")]
    Alphabet,
    /// The unused low bits of the last character are not zero (a second spelling).
    #[error("token has non-zero padding bits")]
    Padding,
    /// Unknown format byte.
    #[error("unknown token format")]
    Format,
    /// The categories byte has unknown bits.
    #[error("token names unknown categories")]
    Categories,
    /// The signature does not verify.
    #[error("token signature does not verify")]
    Signature,
}

impl TokenError {
    /// Stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            TokenError::Prefix => "invalid_token_prefix",
            TokenError::Length => "invalid_token_length",
            TokenError::Alphabet => "invalid_token_alphabet",
            TokenError::Padding => "invalid_token_padding",
            TokenError::Format => "invalid_token_format",
            TokenError::Categories => "invalid_token_format",
            TokenError::Signature => "invalid_token",
        }
    }
}

/// The key id of a voucher-signing key: `SHA-256(public key)[:4]`.
pub fn voucher_key_id(key: &VerifyingKey) -> [u8; 4] {
    let d = Sha256::digest(key.as_bytes());
    [d[0], d[1], d[2], d[3]]
}

/// A voucher key id as written for people (8 hex digits, as `GET /api/v1/keys/voucher` lists
/// it; surrounding white space ignored).
pub fn parse_key_id(text: &str) -> Option<[u8; 4]> {
    Some(text.trim())
        .filter(|k| k.len() == 8 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|k| u32::from_str_radix(k, 16).ok())
        .map(u32::to_be_bytes)
}

/// A decoded voucher token (its signature not yet checked unless stated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoucherToken {
    /// Which voucher-signing key signed it.
    pub key_id: [u8; 4],
    /// The voucher.
    pub voucher: Uuid,
    /// Unix seconds at which the token stops being valid.
    pub expiry: u32,
    /// Categories the voucher may be spent on.
    pub categories: CategorySet,
    /// Generation of the printout.
    pub generation: u8,
    /// Ed25519 signature.
    pub signature: [u8; 64],
}

impl VoucherToken {
    /// Creates and signs a token.
    pub fn sign(
        key: &SigningKey,
        voucher: Uuid,
        expiry: u32,
        categories: CategorySet,
        generation: u8,
    ) -> Self {
        let mut t = Self {
            key_id: voucher_key_id(&key.verifying_key()),
            voucher,
            expiry,
            categories,
            generation,
            signature: [0; 64],
        };
        t.signature = key.sign(&t.message()).to_bytes();
        t
    }

    fn header(&self) -> [u8; 27] {
        Header {
            key_id: self.key_id,
            voucher: self.voucher,
            expiry: self.expiry,
            categories: self.categories,
            generation: self.generation,
        }
        .encode()
    }

    /// The exact message that is signed.
    pub fn message(&self) -> Vec<u8> {
        let mut m = SIGNING_CONTEXT.to_vec();
        m.extend_from_slice(&self.header());
        m
    }

    /// The 91 token bytes.
    pub fn to_bytes(&self) -> [u8; TOKEN_BYTES] {
        let mut b = [0u8; TOKEN_BYTES];
        b[..27].copy_from_slice(&self.header());
        b[27..].copy_from_slice(&self.signature);
        b
    }

    /// Decodes the 91 token bytes strictly.
    pub fn from_bytes(b: &[u8]) -> Result<Self, TokenError> {
        if b.len() != TOKEN_BYTES {
            return Err(TokenError::Length);
        }
        let h = Header::decode(&b[..27])?;
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&b[27..]);
        Ok(Self {
            key_id: h.key_id,
            voucher: h.voucher,
            expiry: h.expiry,
            categories: h.categories,
            generation: h.generation,
            signature,
        })
    }

    /// SHA-256 of the 91 token bytes.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }

    /// The `KP1:` text form.
    pub fn encode(&self) -> String {
        format!("{PREFIX}{}", BASE32_NOPAD.encode(&self.to_bytes()))
    }

    /// Parses the text form strictly: exactly one spelling is valid for each token.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let body = text.strip_prefix(PREFIX).ok_or(TokenError::Prefix)?;
        if text.len() != TOKEN_CHARS {
            return Err(TokenError::Length);
        }
        if !body
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        {
            return Err(TokenError::Alphabet);
        }
        let bytes = BASE32_NOPAD
            .decode(body.as_bytes())
            .map_err(|e| match e.kind {
                data_encoding::DecodeKind::Trailing => TokenError::Padding,
                data_encoding::DecodeKind::Length => TokenError::Length,
                _ => TokenError::Alphabet,
            })?;
        Self::from_bytes(&bytes)
    }

    /// Verifies the signature with the given voucher key (strict Ed25519).
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), TokenError> {
        key.verify_strict(&self.message(), &Signature::from_bytes(&self.signature))
            .map_err(|_| TokenError::Signature)
    }
}

/// The signed fields of a token (its first 27 bytes).
struct Header {
    key_id: [u8; 4],
    voucher: Uuid,
    expiry: u32,
    categories: CategorySet,
    generation: u8,
}

impl Header {
    fn encode(&self) -> [u8; 27] {
        let mut b = [0u8; 27];
        b[0] = FORMAT;
        b[1..5].copy_from_slice(&self.key_id);
        b[5..21].copy_from_slice(self.voucher.as_bytes());
        b[21..25].copy_from_slice(&self.expiry.to_be_bytes());
        b[25] = self.categories.mask();
        b[26] = self.generation;
        b
    }

    fn decode(b: &[u8]) -> Result<Self, TokenError> {
        if b.len() != 27 {
            return Err(TokenError::Length);
        }
        if b[0] != FORMAT {
            return Err(TokenError::Format);
        }
        let mut key_id = [0u8; 4];
        key_id.copy_from_slice(&b[1..5]);
        let mut vid = [0u8; 16];
        vid.copy_from_slice(&b[5..21]);
        let mut exp = [0u8; 4];
        exp.copy_from_slice(&b[21..25]);
        Ok(Self {
            key_id,
            voucher: Uuid::from_bytes(vid),
            expiry: u32::from_be_bytes(exp),
            categories: CategorySet::from_mask(b[25]).ok_or(TokenError::Categories)?,
            generation: b[26],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::category::Category;

    fn sample() -> (SigningKey, VoucherToken) {
        let key = SigningKey::from_bytes(&[3; 32]);
        let cats = [Category::Sport, Category::Cultuur].into_iter().collect();
        let t = VoucherToken::sign(&key, Uuid::from_bytes([0xab; 16]), 1_900_000_000, cats, 2);
        (key, t)
    }

    #[test]
    fn token_is_150_alphanumeric_characters_and_round_trips() {
        let (key, t) = sample();
        let s = t.encode();
        assert_eq!(s.len(), TOKEN_CHARS);
        assert!(
            s.bytes()
                .all(|b| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&b))
        );
        let p = VoucherToken::parse(&s).unwrap();
        assert_eq!(p, t);
        p.verify(&key.verifying_key()).unwrap();
        assert_eq!(p.key_id, voucher_key_id(&key.verifying_key()));
    }

    #[test]
    fn each_kind_of_malformed_token_has_its_own_error() {
        let (key, t) = sample();
        let s = t.encode();
        assert_eq!(
            VoucherToken::parse(&s.replacen("KP1:", "KP2:", 1)),
            Err(TokenError::Prefix)
        );
        assert_eq!(VoucherToken::parse(&s[..149]), Err(TokenError::Length));
        assert_eq!(
            VoucherToken::parse(&format!("{s}A")),
            Err(TokenError::Length)
        );
        assert_eq!(
            VoucherToken::parse(&s.to_lowercase().replacen("kp1:", "KP1:", 1)),
            Err(TokenError::Alphabet)
        );
        let mut with_one = s.clone();
        with_one.replace_range(10..11, "1");
        assert_eq!(VoucherToken::parse(&with_one), Err(TokenError::Alphabet));
        // The last character carries 2 unused bits; a different spelling must be refused.
        let last = s.as_bytes()[149];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let pos = alphabet.iter().position(|c| *c == last).unwrap();
        let twin = alphabet[pos ^ 1] as char;
        let mut padded = s[..149].to_owned();
        padded.push(twin);
        assert_eq!(VoucherToken::parse(&padded), Err(TokenError::Padding));
        let mut b = t.to_bytes();
        b[0] = 2;
        let other_format = format!("KP1:{}", BASE32_NOPAD.encode(&b));
        assert_eq!(VoucherToken::parse(&other_format), Err(TokenError::Format));
        let mut b = t.to_bytes();
        b[60] ^= 1;
        let forged = VoucherToken::from_bytes(&b).unwrap();
        assert_eq!(
            forged.verify(&key.verifying_key()),
            Err(TokenError::Signature)
        );
        let mut b = t.to_bytes();
        b[26] = 3; // generation changed after signing
        let regen = VoucherToken::from_bytes(&b).unwrap();
        assert_eq!(
            regen.verify(&key.verifying_key()),
            Err(TokenError::Signature)
        );
    }
}
