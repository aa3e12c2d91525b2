//! Idempotency keys of requests in progress, held in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Key = (String, String);

/// Keys of requests in progress, held in memory with the fingerprint of the request that holds
/// each. Only the process that writes the ledger books, so memory is the right place for
/// "still running"; the database holds the keys of finished requests.
#[derive(Default, Clone)]
pub(in crate::service) struct InFlight(Arc<Mutex<HashMap<Key, Vec<u8>>>>);

/// Holds a key until dropped.
pub(in crate::service) struct Held {
    map: InFlight,
    key: Key,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(mut m) = self.map.0.lock() {
            m.remove(&self.key);
        }
    }
}

impl InFlight {
    /// Claims a key; `None` when another request holds it.
    pub(in crate::service) fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &[u8],
    ) -> Option<Held> {
        let k = (scope.to_owned(), key.to_owned());
        let mut m = self.0.lock().ok()?;
        if m.contains_key(&k) {
            return None;
        }
        m.insert(k.clone(), fingerprint.to_vec());
        Some(Held {
            map: self.clone(),
            key: k,
        })
    }

    /// The fingerprint of the request holding a key.
    pub(in crate::service) fn fingerprint(&self, scope: &str, key: &str) -> Option<Vec<u8>> {
        let m = self.0.lock().ok()?;
        m.get(&(scope.to_owned(), key.to_owned())).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_held_until_its_request_ends() {
        let f = InFlight::default();
        let held = f.claim("s", "k", b"a").unwrap();
        assert!(f.claim("s", "k", b"a").is_none());
        assert_eq!(f.fingerprint("s", "k").as_deref(), Some(&b"a"[..]));
        assert!(f.claim("s", "other", b"a").is_some());
        drop(held);
        assert!(f.claim("s", "k", b"b").is_some());
    }
}
