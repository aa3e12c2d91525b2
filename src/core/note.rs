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

pub use super::hash::hex;

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

/// One signature line of a note: the key name, the 4-byte key id and the signature bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name on the line.
    pub name: String,
    /// The key id (first four bytes of the decoded blob).
    pub key_id: [u8; 4],
    /// The signature (the rest of the blob; 64 bytes for Ed25519).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    fn line(&self) -> String {
        let mut blob = Vec::with_capacity(4 + self.signature.len());
        blob.extend_from_slice(&self.key_id);
        blob.extend_from_slice(&self.signature);
        format!("{EM_DASH_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// A note split into its text and its signature lines, none of them checked yet. A note may
/// carry several signatures (C2SP signed-note): the log's own and, later, cosignatures by
/// witnesses. Signatures by keys the reader does not know are kept, so that a note can be
/// passed on, cosigned or checked later against other keys without losing any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// Every signature line, in order.
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// A note with no signatures yet.
    pub fn new(text: &str) -> Result<Self, NoteError> {
        check_text(text)?;
        Ok(Self {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// Parses the syntax of a note; verifies nothing.
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        let cut = note
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (text, sigs) = (&note[..cut + 1], &note[cut + 2..]);
        check_text(text)?;
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::Malformed("signatures must end in a newline"));
        }
        let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        let mut signatures = Vec::with_capacity(lines.len());
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
            let Some((id, signature)) = blob.split_first_chunk::<4>() else {
                return Err(NoteError::Malformed("signature too short"));
            };
            if signature.is_empty() {
                return Err(NoteError::Malformed("signature too short"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id: *id,
                signature: signature.to_vec(),
            });
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note as text: the text, a blank line, one line per signature.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 1 + 100 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.line());
        }
        out
    }

    /// Adds a signature by `signer` (a cosignature when the note is already signed). A second
    /// signature by the same key replaces the first.
    pub fn sign(&mut self, signer: &NoteSigner<'_>) -> Result<(), NoteError> {
        if !valid_key_name(signer.name) {
            return Err(NoteError::BadKeyName);
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        let key_id = key_id(signer.name, signer.key.verifying_key().as_bytes());
        let signature = signer.key.sign(self.text.as_bytes()).to_bytes().to_vec();
        self.signatures
            .retain(|s| !(s.name == signer.name && s.key_id == key_id));
        self.signatures.push(NoteSignature {
            name: signer.name.to_owned(),
            key_id,
            signature,
        });
        Ok(())
    }

    /// Checks the signatures by `known` keys. A failing signature by a known key rejects the
    /// note; at least one known key must have signed; signatures by other keys are kept,
    /// unchecked, in [`VerifiedNote::unverified`].
    pub fn verify(&self, known: &[Vkey]) -> Result<VerifiedNote, NoteError> {
        let mut signed_by: Vec<Vkey> = Vec::new();
        let mut unverified = Vec::new();
        for s in &self.signatures {
            let mut matched = false;
            for k in known
                .iter()
                .filter(|k| k.name == s.name && k.id == s.key_id)
            {
                matched = true;
                let ok = <[u8; 64]>::try_from(s.signature.as_slice())
                    .map(|b| Signature::from_bytes(&b))
                    .is_ok_and(|sig| k.key.verify_strict(self.text.as_bytes(), &sig).is_ok());
                if !ok {
                    return Err(NoteError::BadSignature(k.name.clone()));
                }
                if !signed_by.contains(k) {
                    signed_by.push(k.clone());
                }
            }
            if !matched {
                unverified.push(s.clone());
            }
        }
        if signed_by.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(VerifiedNote {
            text: self.text.clone(),
            signed_by,
            unverified,
        })
    }
}

/// Signs `text` (which must end in a newline) and returns the complete note.
pub fn sign_note(text: &str, signers: &[NoteSigner<'_>]) -> Result<String, NoteError> {
    let mut note = Note::new(text)?;
    for s in signers {
        note.sign(s)?;
    }
    Ok(note.encode())
}

/// Adds a signature to an existing note (for example a witness cosigning a checkpoint); the
/// note's other signatures, known or not, are kept as they are.
pub fn add_signature(note: &str, signer: &NoteSigner<'_>) -> Result<String, NoteError> {
    let mut n = Note::parse(note)?;
    n.sign(signer)?;
    Ok(n.encode())
}

/// A note whose signatures were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The verifier keys whose signatures verified.
    pub signed_by: Vec<Vkey>,
    /// Signatures by keys that were not given, kept unchecked (for example a witness's).
    pub unverified: Vec<NoteSignature>,
}

/// Verifies a note against known keys. Signatures by unknown keys are kept unchecked; a
/// failing signature by a known key rejects the note; at least one known key must have signed.
pub fn verify_note(note: &str, known: &[Vkey]) -> Result<VerifiedNote, NoteError> {
    Note::parse(note)?.verify(known)
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
            self.root.to_base64()
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
        let root = Hash::from_base64(root)
            .ok_or(NoteError::BadCheckpoint("root is not 32 bytes of base64"))?;
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
            root: Hash([7; 32]),
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

    #[test]
    fn a_checkpoint_can_be_cosigned_and_checked_by_either_key() {
        let log = test_key("log");
        let witness = test_key("witness");
        let cp = Checkpoint {
            origin: "kindpakket.example/ledger".into(),
            size: 7,
            root: Hash([3; 32]),
        };
        let signed = cp
            .sign(&[NoteSigner {
                name: "kindpakket.example/ledger",
                key: &log,
            }])
            .unwrap();
        let cosigned = add_signature(
            &signed,
            &NoteSigner {
                name: "witness.example",
                key: &witness,
            },
        )
        .unwrap();
        assert!(
            cosigned.starts_with(&signed),
            "the log's signature is kept as it was"
        );
        let vlog = Vkey::new("kindpakket.example/ledger", log.verifying_key()).unwrap();
        let vwit = Vkey::new("witness.example", witness.verifying_key()).unwrap();
        // A reader who knows only the log's key keeps the witness's signature for later.
        let (parsed, v) = Checkpoint::verify(&cosigned, std::slice::from_ref(&vlog)).unwrap();
        assert_eq!(parsed, cp);
        assert_eq!(v.signed_by, vec![vlog.clone()]);
        assert_eq!(v.unverified.len(), 1);
        assert_eq!(v.unverified[0].name, "witness.example");
        assert_eq!(v.unverified[0].key_id, vwit.id);
        // Later, with the witness's key, both are checked.
        let (_, both) = Checkpoint::verify(&cosigned, &[vlog.clone(), vwit.clone()]).unwrap();
        assert_eq!(both.signed_by, vec![vlog.clone(), vwit.clone()]);
        assert!(both.unverified.is_empty());
        let (_, only_witness) = Checkpoint::verify(&cosigned, std::slice::from_ref(&vwit)).unwrap();
        assert_eq!(only_witness.signed_by, vec![vwit]);
        // Parsing and encoding keep every signature byte for byte; signing again by the same
        // key does not add a second line.
        assert_eq!(Note::parse(&cosigned).unwrap().encode(), cosigned);
        let again = add_signature(
            &cosigned,
            &NoteSigner {
                name: "witness.example",
                key: &witness,
            },
        )
        .unwrap();
        assert_eq!(
            again, cosigned,
            "Ed25519 is deterministic and the line is replaced"
        );
        // A forged cosignature is refused once its key is known.
        let forged = cosigned.replace(&v.unverified[0].line(), &{
            let mut s = v.unverified[0].clone();
            s.signature[0] ^= 1;
            s.line()
        });
        assert!(Checkpoint::verify(&forged, std::slice::from_ref(&vlog)).is_ok());
        assert!(matches!(
            Checkpoint::verify(
                &forged,
                &[
                    vlog,
                    Vkey::new("witness.example", witness.verifying_key()).unwrap()
                ]
            ),
            Err(NoteError::BadSignature(_))
        ));
    }
}
