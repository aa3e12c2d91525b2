//! Idempotency keys: a request repeated with the same key is done once, and every repeat gets
//! the same answer. Redemptions need a key; deposits, top-ups and direct payments take one
//! when it is given. All four use this module, configured by their answer type
//! ([`Answer`]): a redemption's answer is rebuilt from the ledger, the others' are stored.
//!
//! - The key is claimed in memory before any work (only the ledger's one writer process books),
//!   so a repeat while the first runs gets `idempotency_in_flight`.
//! - The key row is written in the same transaction as the booking (the work gets it as a
//!   [`Change`]), so a second booking with the same key is impossible, even after a crash.
//! - A refusal is stored with the key; a repeat gets the same refusal. A different request
//!   with the same key gets `idempotency_conflict`.
//! - A key that was booked but whose answer was not kept (a crash in between) gets
//!   `idempotency_in_doubt`, unless the answer can be rebuilt from the ledger.
//! - The work runs in its own task that holds the claim until the outcome is on record, so a
//!   client that gives up (a timeout, a lost connection) never leaves a booking unclaimed.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::{Conflict, Invalid, Refusal, RefusalClass, Rule, Unavailable};
use super::{Error, Result, Services};
use crate::store::Change;
use crate::store::idempotency::{Claim, Stored};

/// What a request with a key answers, and how a repeat finds that answer again.
pub(in crate::service) trait Answer:
    Serialize + DeserializeOwned + Send + 'static
{
    /// True when the answer is rebuilt from what the booking created (so it is never stored).
    const REBUILT: bool = false;

    /// A new id for what the booking creates (time-ordered unless an answer needs another).
    fn new_id() -> Uuid {
        Uuid::now_v7()
    }

    /// Rebuilds the answer of the booking that created `id`; `None` when it is not (yet)
    /// booked or not yet answerable.
    fn rebuild(_svc: Services, _id: Uuid) -> impl Future<Output = Result<Option<Self>>> + Send {
        async { Ok(None) }
    }
}

/// The outcome kept with a key.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Outcome<T> {
    Ok(T),
    Refused(Refusal),
}

/// Checks an `Idempotency-Key` as sent: at most 255 visible ASCII characters, not all of them
/// quotes (surrounding spaces are ignored, and surrounding quotes, as some clients add them).
pub(in crate::service) fn parse_key(raw: Option<&str>) -> Result<Option<String>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let k = raw.trim();
    if k.len() > 255 || !k.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Invalid::IdempotencyKey.into());
    }
    let k = k.trim_matches('"');
    if k.is_empty() {
        return Err(Invalid::IdempotencyKey.into());
    }
    Ok(Some(k.to_owned()))
}

/// The key that must be there.
pub(in crate::service) fn required_key(raw: Option<&str>) -> Result<String> {
    parse_key(raw)?.ok_or(Error::Invalid(Invalid::IdempotencyKeyMissing))
}

/// The fingerprint of a request: SHA-256 of its JSON form (ids from the address included).
pub(in crate::service) fn fingerprint(request: &impl Serialize) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(request).map_err(Error::internal)?;
    Ok(Sha256::digest(json).to_vec())
}

/// Runs `work` once per key. `work` gets the key's row change (to commit with its booking;
/// `None` without a key) and the id its booking must create.
pub(in crate::service) async fn run<T, F, Fut>(
    svc: &Services,
    operation: &'static str,
    user: Uuid,
    key: Option<String>,
    fingerprint: Vec<u8>,
    work: F,
) -> Result<T>
where
    T: Answer,
    F: FnOnce(Option<Change>, Uuid) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let Some(key) = key else {
        // No key: still run to the end even if the client gives up.
        let task = tokio::spawn(work(None, T::new_id()));
        return task.await.map_err(Error::internal)?;
    };
    let scope = format!("{operation}:{user}");
    // 1. A key used before: answer as then.
    if let Some(claim) = svc.store().idempotency_claim(&scope, &key).await? {
        return repeat(svc, &scope, &key, claim, &fingerprint).await;
    }
    // 2. Claim the key before any work; a repeat while we work gets 409.
    let Some(held) = svc.in_flight().claim(&scope, &key, &fingerprint) else {
        return Err(match svc.in_flight().fingerprint(&scope, &key) {
            Some(fp) if fp != fingerprint => Rule::IdempotencyConflict.into(),
            _ => Conflict::InFlight.into(),
        });
    };
    // 3. The work runs in its own task that holds the claim until the outcome is on record.
    let svc = svc.clone();
    let task = tokio::spawn(async move {
        let _held = held;
        let id = T::new_id();
        let now = svc.now();
        let row = Change::InsertIdempotencyKey {
            scope: scope.clone(),
            key: key.clone(),
            fingerprint: fingerprint.clone(),
            resource_id: id,
            at: now,
        };
        match work(Some(row), id).await {
            Ok(answer) => {
                if !T::REBUILT {
                    let outcome = encode(&Outcome::Ok(&answer))?;
                    svc.store()
                        .apply(&[Change::CompleteIdempotencyKey {
                            scope,
                            key,
                            outcome,
                        }])
                        .await?;
                }
                Ok(answer)
            }
            // The key was booked by a request the in-memory claim did not see (another
            // process before a restart): answer as on record.
            Err(e @ Error::Conflict(Conflict::Exists)) => {
                match svc.store().idempotency_claim(&scope, &key).await? {
                    Some(claim) => repeat(&svc, &scope, &key, claim, &fingerprint).await,
                    None => Err(e),
                }
            }
            // Possibly booked: the failure may have come after the commit (storing the
            // checkpoint, building the receipt). A rebuildable booking is answered as booked;
            // otherwise nothing is stored, so a repeat finds the key row (in doubt) or books
            // afresh.
            Err(e @ (Error::Unavailable(_) | Error::Internal(_))) => {
                if T::REBUILT
                    && let Ok(Some(answer)) = T::rebuild(svc.clone(), id).await
                {
                    return Ok(answer);
                }
                Err(e)
            }
            Err(e) => {
                let Some(refusal) = e.refusal() else {
                    return Err(e);
                };
                let outcome = encode(&Outcome::<T>::Refused(refusal))?;
                // Stored only if the key is still free. An earlier request with this key may
                // have booked in the meantime (its balance change can be why this one was
                // refused): the answer is whatever is on record for the key.
                svc.store()
                    .apply(&[Change::InsertIdempotencyOutcome {
                        scope: scope.clone(),
                        key: key.clone(),
                        fingerprint: fingerprint.clone(),
                        resource_id: id,
                        outcome,
                        at: now,
                    }])
                    .await?;
                match svc.store().idempotency_claim(&scope, &key).await? {
                    Some(claim) => repeat(&svc, &scope, &key, claim, &fingerprint).await,
                    None => Err(Error::bug("idempotency key not on record after storing")),
                }
            }
        }
    });
    task.await.map_err(Error::internal)?
}

fn encode<T: Serialize>(outcome: &Outcome<T>) -> Result<String> {
    serde_json::to_string(outcome).map_err(Error::internal)
}

/// The answer on record for a key used before.
async fn repeat<T: Answer>(
    svc: &Services,
    scope: &str,
    key: &str,
    claim: Claim,
    fingerprint: &[u8],
) -> Result<T> {
    if claim.fingerprint != fingerprint {
        return Err(Rule::IdempotencyConflict.into());
    }
    match claim.outcome {
        Stored::Outcome(text) => decode(&text),
        Stored::Legacy { status, body } => legacy(status, &body),
        Stored::Nothing if T::REBUILT => match T::rebuild(svc.clone(), claim.resource_id).await? {
            Some(answer) => Ok(answer),
            None => Err(Conflict::InFlight.into()),
        },
        Stored::Nothing => {
            // Booked, answer not stored yet: normally the first request is about to store it.
            if svc.in_flight().fingerprint(scope, key).is_some() {
                return Err(Conflict::InFlight.into());
            }
            // It may have stored it and let go of the key since our read: read once more.
            // Only a key that is still without answer and held by nobody is in doubt (a crash).
            match svc.store().idempotency_claim(scope, key).await? {
                Some(Claim {
                    outcome: Stored::Outcome(text),
                    ..
                }) => decode(&text),
                Some(_) => Err(Conflict::InDoubt.into()),
                None => Err(Error::bug("idempotency key vanished")),
            }
        }
    }
}

fn decode<T: Answer>(text: &str) -> Result<T> {
    match serde_json::from_str::<Outcome<T>>(text).map_err(Error::internal)? {
        Outcome::Ok(answer) => Ok(answer),
        Outcome::Refused(r) => Err(Error::Replayed(r)),
    }
}

/// An answer stored as HTTP status and body by a version before outcomes were kept.
fn legacy<T: Answer>(status: i64, body: &str) -> Result<T> {
    if (200..300).contains(&status) {
        return serde_json::from_str(body).map_err(Error::internal);
    }
    #[derive(Deserialize)]
    struct Body {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        code: String,
        message: String,
        #[serde(default)]
        detail: Option<String>,
    }
    let class = match status {
        400 => RefusalClass::Invalid,
        401 => RefusalClass::Unauthenticated,
        403 => RefusalClass::Forbidden,
        404 => RefusalClass::NotFound,
        409 => RefusalClass::Conflict,
        422 => RefusalClass::Rule,
        _ => {
            return Err(Error::Unavailable(Unavailable::Busy {
                cause: format!("stored answer with status {status}"),
            }));
        }
    };
    let b: Body = serde_json::from_str(body).map_err(Error::internal)?;
    Err(Error::Replayed(Refusal {
        class,
        code: b.error.code,
        message: b.error.message,
        detail: b.error.detail,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_visible_characters() {
        assert_eq!(parse_key(None).unwrap(), None);
        assert_eq!(
            parse_key(Some(" \"abc\" ")).unwrap().as_deref(),
            Some("abc")
        );
        assert_eq!(parse_key(Some("\"abc")).unwrap().as_deref(), Some("abc"));
        assert!(parse_key(Some("\"")).is_err());
        assert!(parse_key(Some("\"\"")).is_err());
        assert!(parse_key(Some("")).is_err());
        assert!(parse_key(Some("a b")).is_err());
        assert!(parse_key(Some(&"x".repeat(256))).is_err());
        assert!(matches!(
            required_key(None),
            Err(Error::Invalid(Invalid::IdempotencyKeyMissing))
        ));
    }
}
