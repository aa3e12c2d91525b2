//! C2SP signed notes (`signed-note/v1`), verifier keys ("vkeys") and `tlog-checkpoint` bodies.
//!
//! A note is UTF-8 text ending in a newline, a blank line, and signature lines
//! `— <key name> base64(key id || signature)`. Only Ed25519 (signature type 0x01) is produced;
//! signatures by unknown keys are ignored when verifying, as the spec requires.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// Signature type byte for Ed25519 in signed notes.
pub const ALG_ED25519: u8 = 0x01;
/// Maximum number of signature lines accepted in one note.
pub const MAX_SIGNATURES: usize = 100;
const EM_DASH_PREFIX: &str = "\u{2014} ";

/// Why a note, key or checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The verifier key string is malformed.
    #[error("malformed verifier key: {0}")]
    BadVkey(&'static str),
    /// The key name is empty or contains a space or '+'.
    #[error("invalid key name")]
    BadKeyName,
    /// The note text breaks the signed-note syntax.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A known key's signature is present but invalid.
    #[error("signature by {0} does not verify")]
    BadSignature(String),
    /// No known key signed the note.
    #[error("no signature by a known key")]
    NoKnownSignature,
    /// The note text is not a valid checkpoint.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(&'static str),
}

/// Checks a key name: 1..=255 bytes, no Unicode white space or control characters, no '+'.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

/// The 4-byte key ID: `SHA-256(name || "\n" || 0x01 || public key)[:4]`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public_key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A verifier key: a name and an Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vkey {
    /// The key name (for a checkpoint key: the log origin).
    pub name: String,
    /// The key ID derived from name and key.
    pub id: [u8; 4],
    /// The Ed25519 public key.
    pub key: VerifyingKey,
}

impl Vkey {
    /// Builds a verifier key, deriving its ID.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::BadKeyName);
        }
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, key.as_bytes()),
            key,
        })
    }

    /// Parses `<name>+<hex id>+<base64(0x01 || key)>`, checking that the ID matches.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let mut parts = s.trim_end_matches('\n').splitn(3, '+');
        let (Some(name), Some(hexid), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadVkey("expected name+id+key"));
        };
        if !valid_key_name(name) {
            return Err(NoteError::BadKeyName);
        }
        if hexid.len() != 8 || !hexid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NoteError::BadVkey("key id must be 8 hex digits"));
        }
        let raw = B64
            .decode(b64)
            .map_err(|_| NoteError::BadVkey("key is not base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(NoteError::BadVkey("not an Ed25519 key"));
        }
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&raw[1..]);
        let key =
            VerifyingKey::from_bytes(&pk).map_err(|_| NoteError::BadVkey("invalid public key"))?;
        let v = Self::new(name, key)?;
        if hex(&v.id) != hexid.to_ascii_lowercase() {
            return Err(NoteError::BadVkey("key id does not match the key"));
        }
        Ok(v)
    }
}

impl std::fmt::Display for Vkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(ALG_ED25519);
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex(&self.id), B64.encode(raw))
    }
}

/// Lower-case hex of a byte string.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A signer for notes: a key name and an Ed25519 signing key.
pub struct NoteSigner<'a> {
    /// The key name placed on the signature line.
    pub name: &'a str,
    /// The signing key.
    pub key: &'a SigningKey,
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text must end in a newline"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("text contains control characters"));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(NoteError::Malformed("text contains a blank line"));
    }
    Ok(())
}

/// Signs `text` (which must end in a newline) and returns the complete note.
pub fn sign_note(text: &str, signers: &[NoteSigner<'_>]) -> Result<String, NoteError> {
    check_text(text)?;
    let mut out = String::with_capacity(text.len() + 120 * signers.len());
    out.push_str(text);
    out.push('\n');
    for s in signers {
        if !valid_key_name(s.name) {
            return Err(NoteError::BadKeyName);
        }
        let id = key_id(s.name, s.key.verifying_key().as_bytes());
        let sig = s.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&id);
        blob.extend_from_slice(&sig.to_bytes());
        out.push_str(EM_DASH_PREFIX);
        out.push_str(s.name);
        out.push(' ');
        out.push_str(&B64.encode(blob));
        out.push('\n');
    }
    Ok(out)
}

/// A note whose signatures were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The verifier keys whose signatures verified.
    pub signed_by: Vec<Vkey>,
}

/// Verifies a note against known keys. Unknown signatures are ignored; a failing signature by
/// a known key rejects the note; at least one known key must have signed.
pub fn verify_note(note: &str, known: &[Vkey]) -> Result<VerifiedNote, NoteError> {
    let cut = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, sigs) = (&note[..cut + 1], &note[cut + 2..]);
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed("signatures must end in a newline"));
    }
    let mut signed_by: Vec<Vkey> = Vec::new();
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::Malformed("too many signatures"));
    }
    for line in lines {
        let rest = line
            .strip_prefix(EM_DASH_PREFIX)
            .ok_or(NoteError::Malformed(
                "signature line must start with an em dash",
            ))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::Malformed("signature line has no signature"))?;
        if !valid_key_name(name) {
            return Err(NoteError::Malformed("invalid key name on signature line"));
        }
        let blob = B64
            .decode(b64)
            .map_err(|_| NoteError::Malformed("signature is not base64"))?;
        if blob.len() < 5 {
            return Err(NoteError::Malformed("signature too short"));
        }
        for k in known
            .iter()
            .filter(|k| k.name == name && k.id[..] == blob[..4])
        {
            let ok = <[u8; 64]>::try_from(&blob[4..])
                .map(|b| Signature::from_bytes(&b))
                .is_ok_and(|sig| k.key.verify_strict(text.as_bytes(), &sig).is_ok());
            if !ok {
                return Err(NoteError::BadSignature(k.name.clone()));
            }
            if !signed_by.contains(k) {
                signed_by.push(k.clone());
            }
        }
    }
    if signed_by.is_empty() {
        return Err(NoteError::NoKnownSignature);
    }
    Ok(VerifiedNote {
        text: text.to_owned(),
        signed_by,
    })
}

/// The body of a `tlog-checkpoint`: origin, tree size and root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Number of entries in the tree.
    pub size: u64,
    /// RFC 6962 root hash.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n`.
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses checkpoint text (extension lines after the root are allowed and ignored).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::BadCheckpoint("must end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::BadCheckpoint("missing origin"))?;
        let size = lines
            .next()
            .ok_or(NoteError::BadCheckpoint("missing size"))?;
        let root = lines
            .next()
            .ok_or(NoteError::BadCheckpoint("missing root"))?;
        if lines.any(str::is_empty) {
            return Err(NoteError::BadCheckpoint("empty extension line"));
        }
        let canonical = size == "0" || (!size.starts_with('0') && !size.is_empty());
        if !canonical || !size.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NoteError::BadCheckpoint("size is not a canonical decimal"));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| NoteError::BadCheckpoint("size out of range"))?;
        let raw = B64
            .decode(root)
            .map_err(|_| NoteError::BadCheckpoint("root is not base64"))?;
        let root: Hash = raw
            .try_into()
            .map_err(|_| NoteError::BadCheckpoint("root is not 32 bytes"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// Signs the checkpoint, returning the note.
    pub fn sign(&self, signers: &[NoteSigner<'_>]) -> Result<String, NoteError> {
        sign_note(&self.text(), signers)
    }

    /// Verifies a checkpoint note against known keys and parses it.
    pub fn verify(note: &str, known: &[Vkey]) -> Result<(Self, VerifiedNote), NoteError> {
        let v = verify_note(note, known)?;
        Ok((Self::parse(&v.text)?, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM_VKEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
    const SUM_NOTE: &str = "go.sum database tree\n65664258\nWVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg=\n\n\u{2014} sum.golang.org Az3grligJmgX7KGyGPKybykNTh3VgsbLvUuvOwrM5zLVlulmFp2wdvbxOw74/gcNxURShXEpb7RXcs3+BYflYN+w0gQ=\n";

    #[test]
    fn real_sum_golang_org_checkpoint_verifies() {
        let vkey = Vkey::parse(SUM_VKEY).unwrap();
        assert_eq!(vkey.to_string(), SUM_VKEY);
        assert_eq!(SUM_NOTE.len(), 188);
        let (cp, v) = Checkpoint::verify(SUM_NOTE, &[vkey]).unwrap();
        assert_eq!(cp.origin, "go.sum database tree");
        assert_eq!(cp.size, 65664258);
        assert_eq!(v.text.len(), 75);
        assert_eq!(
            B64.encode(cp.root),
            "WVVNVD2qx+fTq31zkj6UAqxT5X6HvGphGM+o8Thnbsg="
        );
    }

    #[test]
    fn sum_golang_org_checkpoint_fails_when_one_digit_changes() {
        let vkey = Vkey::parse(SUM_VKEY).unwrap();
        for (i, c) in SUM_NOTE.char_indices().take(75) {
            if !c.is_ascii_digit() {
                continue;
            }
            let other = if c == '9' { '0' } else { (c as u8 + 1) as char };
            let mut forged = SUM_NOTE.to_owned();
            forged.replace_range(i..i + 1, &other.to_string());
            let err = Checkpoint::verify(&forged, std::slice::from_ref(&vkey)).unwrap_err();
            assert_eq!(
                err,
                NoteError::BadSignature("sum.golang.org".into()),
                "digit at {i}"
            );
        }
    }

    #[test]
    fn vkey_with_wrong_id_is_refused() {
        let bad = SUM_VKEY.replace("033de0ae", "033de0af");
        assert!(Vkey::parse(&bad).is_err());
        assert!(Vkey::parse("no-plus-signs").is_err());
        assert!(Vkey::parse("a b+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8").is_err());
    }

    #[test]
    fn c2sp_spec_example_key_id() {
        // C2SP signed-note example vkey: example.com/foo+530d903a+Aeky...
        let v =
            Vkey::parse("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
                .unwrap();
        assert_eq!(hex(&v.id), "530d903a");
    }

    fn test_key(seed: &str) -> SigningKey {
        SigningKey::from_bytes(&Sha256::digest(seed.as_bytes()).into())
    }

    #[test]
    fn research_vector_key_matches_published_vkey() {
        let k = test_key("kindpakket ledger TEST key - do not use");
        let v = Vkey::new("kindpakket.example/ledger/test", k.verifying_key()).unwrap();
        assert_eq!(
            v.to_string(),
            "kindpakket.example/ledger/test+4061ac37+ASB309OGjSbjPoo7DJYpCw4Viq/jyO+bxg4fxgU9cz5S"
        );
    }

    #[test]
    fn signed_checkpoint_round_trips_and_ignores_unknown_signers() {
        let a = test_key("a");
        let b = test_key("b");
        let cp = Checkpoint {
            origin: "kindpakket.example/ledger".into(),
            size: 42,
            root: [7; 32],
        };
        let note = cp
            .sign(&[
                NoteSigner {
                    name: "kindpakket.example/ledger",
                    key: &a,
                },
                NoteSigner {
                    name: "witness.example",
                    key: &b,
                },
            ])
            .unwrap();
        let va = Vkey::new("kindpakket.example/ledger", a.verifying_key()).unwrap();
        let (parsed, v) = Checkpoint::verify(&note, std::slice::from_ref(&va)).unwrap();
        assert_eq!(parsed, cp);
        assert_eq!(v.signed_by, vec![va.clone()]);
        let vb_wrong_name = Vkey::new("kindpakket.example/other", b.verifying_key()).unwrap();
        assert_eq!(
            Checkpoint::verify(&note, &[vb_wrong_name]).unwrap_err(),
            NoteError::NoKnownSignature
        );
        let tampered = note.replacen("42", "43", 1);
        assert!(matches!(
            Checkpoint::verify(&tampered, &[va]).unwrap_err(),
            NoteError::BadSignature(_)
        ));
    }

    #[test]
    fn checkpoint_sizes_must_be_canonical() {
        let root = B64.encode([1u8; 32]);
        assert!(Checkpoint::parse(&format!("o\n007\n{root}\n")).is_err());
        assert!(Checkpoint::parse(&format!("o\n-1\n{root}\n")).is_err());
        assert!(Checkpoint::parse(&format!("o\n0\n{root}\n")).is_ok());
        assert!(Checkpoint::parse(&format!("o\n7\n{root}")).is_err());
        assert!(Checkpoint::parse("o\n7\nAAAA\n").is_err());
        assert!(Checkpoint::parse(&format!("o\n7\n{root}\next\n")).is_ok());
    }

    #[test]
    fn notes_with_bad_syntax_are_refused() {
        let k = test_key("a");
        let v = Vkey::new("n", k.verifying_key()).unwrap();
        assert!(sign_note("no newline", &[NoteSigner { name: "n", key: &k }]).is_err());
        assert!(sign_note("a\n\nb\n", &[NoteSigner { name: "n", key: &k }]).is_err());
        assert!(sign_note("bell\u{7}\n", &[NoteSigner { name: "n", key: &k }]).is_err());
        let note = sign_note("hello\n", &[NoteSigner { name: "n", key: &k }]).unwrap();
        assert!(verify_note(&note, std::slice::from_ref(&v)).is_ok());
        assert!(verify_note(note.trim_end(), std::slice::from_ref(&v)).is_err());
        assert!(verify_note(&note.replace('\u{2014}', "-"), std::slice::from_ref(&v)).is_err());
    }
}
