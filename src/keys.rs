//! Private key files: one PKCS#8 PEM file per key in the keys directory, created with mode 0600
//! and never logged. File names carry the purpose, the creation time and the key fingerprint
//! (`ledger-20261123T184300Z-1a2b3c4d.pem`), so the newest key of a purpose sorts last. The
//! secret behind parents' personal links (`link-secret`) lives here too.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};

use crate::core::entry::KeyPurpose;
use crate::core::token::voucher_key_id;

/// Problems with key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key file does not hold a valid key.
    #[error("key file {0} is not a PKCS#8 Ed25519 private key")]
    Invalid(PathBuf),
    /// Randomness was not available.
    #[error("no randomness available to create a key")]
    Random,
    /// The link secret file does not hold a link secret.
    #[error("{0} is not a link secret")]
    LinkSecret(PathBuf),
}

/// A loaded private key.
pub struct KeyFile {
    /// What it signs.
    pub purpose: KeyPurpose,
    /// The key itself.
    pub key: SigningKey,
    /// Where it is stored.
    pub path: PathBuf,
}

/// All private keys in a keys directory.
pub struct KeyRing {
    dir: PathBuf,
    keys: Vec<KeyFile>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only file names; never key material.
        f.debug_struct("KeyRing")
            .field("dir", &self.dir)
            .field(
                "files",
                &self.keys.iter().map(|k| &k.path).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

fn prefix(purpose: KeyPurpose) -> &'static str {
    match purpose {
        KeyPurpose::Ledger => "ledger-",
        KeyPurpose::Voucher => "voucher-",
    }
}

impl KeyRing {
    /// Loads every key file in `dir`, creating the directory (mode 0700) if needed.
    pub fn load(dir: &Path) -> Result<Self, KeyError> {
        create_dir(dir)?;
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "pem"))
            .collect();
        names.sort();
        let mut keys = Vec::new();
        for path in names {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let purpose = if name.starts_with(prefix(KeyPurpose::Ledger)) {
                KeyPurpose::Ledger
            } else if name.starts_with(prefix(KeyPurpose::Voucher)) {
                KeyPurpose::Voucher
            } else {
                continue;
            };
            warn_if_readable_by_others(&path);
            let pem = std::fs::read_to_string(&path).map_err(io(&path))?;
            let key =
                SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::Invalid(path.clone()))?;
            keys.push(KeyFile { purpose, key, path });
        }
        Ok(Self {
            dir: dir.to_owned(),
            keys,
        })
    }

    /// Creates a new key file (mode 0600) and adds it to the ring.
    pub fn generate(&mut self, purpose: KeyPurpose) -> Result<&SigningKey, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| KeyError::Random)?;
        let key = SigningKey::from_bytes(&seed);
        seed.fill(0);
        let fingerprint = crate::core::hash::hex(&voucher_key_id(&key.verifying_key()));
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let path = self
            .dir
            .join(format!("{}{stamp}-{fingerprint}.pem", prefix(purpose)));
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Invalid(path.clone()))?;
        write_private(&path, pem.as_bytes())?;
        self.keys.push(KeyFile { purpose, key, path });
        let last = self.keys.len() - 1;
        Ok(&self.keys[last].key)
    }

    /// The most recently created key of a purpose.
    pub fn newest(&self, purpose: KeyPurpose) -> Option<&SigningKey> {
        self.keys
            .iter()
            .filter(|k| k.purpose == purpose)
            .max_by(|a, b| a.path.cmp(&b.path))
            .map(|k| &k.key)
    }

    /// Moves the private key of a public key out of the keys directory into `archive` (created
    /// 0700; the file keeps mode 0600), for a key that signs no more. Its public key stays on
    /// the ledger, so what it signed still verifies. `None` when this ring does not hold it.
    pub fn archive(
        &mut self,
        purpose: KeyPurpose,
        public_key: &[u8; 32],
        archive: &Path,
    ) -> Result<Option<PathBuf>, KeyError> {
        let Some(i) = self
            .keys
            .iter()
            .position(|k| k.purpose == purpose && k.key.verifying_key().as_bytes() == public_key)
        else {
            return Ok(None);
        };
        create_dir(archive)?;
        let from = self.keys[i].path.clone();
        let name = from.file_name().map(ToOwned::to_owned).unwrap_or_default();
        let to = archive.join(name);
        std::fs::rename(&from, &to)
            .or_else(|_| std::fs::copy(&from, &to).and_then(|_| std::fs::remove_file(&from)))
            .map_err(io(&from))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                .map_err(io(&to))?;
        }
        self.keys.remove(i);
        Ok(Some(to))
    }

    /// The private key for a public key, if this ring has it.
    pub fn find(&self, purpose: KeyPurpose, public_key: &[u8; 32]) -> Option<&SigningKey> {
        self.keys
            .iter()
            .find(|k| k.purpose == purpose && k.key.verifying_key().as_bytes() == public_key)
            .map(|k| &k.key)
    }
}

const LINK_SECRET: &str = "link-secret";

/// The secret behind parents' personal links: 32 random bytes in `<dir>/link-secret` (URL-safe
/// base64, mode 0600), created when missing.
pub fn link_secret(dir: &Path) -> Result<[u8; 32], KeyError> {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let path = dir.join(LINK_SECRET);
    match std::fs::read_to_string(&path) {
        Ok(text) => URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(KeyError::LinkSecret(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_dir(dir)?;
            let mut raw = [0u8; 32];
            getrandom::fill(&mut raw).map_err(|_| KeyError::Random)?;
            write_private(&path, URL_SAFE_NO_PAD.encode(raw).as_bytes())?;
            Ok(raw)
        }
        Err(e) => Err(KeyError::Io { path, source: e }),
    }
}

/// Creates a private directory (0700), or tightens an existing one to 0700: its files are
/// private keys.
fn create_dir(dir: &Path) -> Result<(), KeyError> {
    if dir.is_dir() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(dir).map_err(io(dir))?;
            if m.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(io(dir))?;
                tracing::warn!(dir = %dir.display(), "the keys directory was readable by others; its mode is now 0700");
            }
        }
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(io(dir))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    Ok(())
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(file = %path.display(), "private key file is readable by others; chmod 600 it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_private_files_that_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let kdir = dir.path().join("keys");
        let mut ring = KeyRing::load(&kdir).unwrap();
        let pk = ring.generate(KeyPurpose::Ledger).unwrap().verifying_key();
        let vk = ring.generate(KeyPurpose::Voucher).unwrap().verifying_key();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for e in std::fs::read_dir(&kdir).unwrap() {
                let mode = e.unwrap().metadata().unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
            let dmode = std::fs::metadata(&kdir).unwrap().permissions().mode();
            assert_eq!(dmode & 0o777, 0o700);
        }
        let again = KeyRing::load(&kdir).unwrap();
        assert_eq!(
            again.newest(KeyPurpose::Ledger).unwrap().verifying_key(),
            pk
        );
        assert_eq!(
            again.newest(KeyPurpose::Voucher).unwrap().verifying_key(),
            vk
        );
        assert!(again.find(KeyPurpose::Ledger, vk.as_bytes()).is_none());
        let debug = format!("{again:?}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
    }

    #[test]
    fn the_link_secret_file_is_private_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let a = link_secret(dir.path()).unwrap();
        let b = link_secret(dir.path()).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(dir.path().join(LINK_SECRET))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(m & 0o777, 0o600);
        }
        std::fs::write(dir.path().join("other"), "x").unwrap();
        let bad = tempfile::tempdir().unwrap();
        std::fs::write(bad.path().join(LINK_SECRET), "not base64!").unwrap();
        assert!(matches!(
            link_secret(bad.path()),
            Err(KeyError::LinkSecret(_))
        ));
    }
}
