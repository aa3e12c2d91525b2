//! Public ledger endpoints (no login): checkpoint, verifier keys, entries, proofs, voucher keys.

use axum::Json;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use super::state::AppState;
use crate::core::entry::Body;
use crate::core::hash::hex;
use crate::core::merkle::{self, Hash};
use crate::service::error::{FieldIssue, Invalid};
use crate::service::transparency::{self, PublicEntry};

fn text(body: String) -> Response {
    (
        [
            (CONTENT_TYPE, "text/plain; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The latest signed checkpoint (C2SP tlog-checkpoint; the key name is the origin).
#[utoipa::path(get, path = "/api/v1/ledger/checkpoint", operation_id = "get_ledger_checkpoint", tag = "ledger",
    responses((status = 200, description = "Signed note", content_type = "text/plain", body = String)))]
pub async fn checkpoint(State(state): State<AppState>) -> Response {
    text(transparency::checkpoint(&state.services))
}

/// Every ledger verifier key in signed-note vkey form, one per line, oldest first.
#[utoipa::path(get, path = "/api/v1/ledger/key", operation_id = "get_ledger_verifier_keys", tag = "ledger",
    responses((status = 200, description = "Verifier keys", content_type = "text/plain", body = String)))]
pub async fn key(State(state): State<AppState>) -> Response {
    let keys: String = transparency::verifier_keys(&state.services)
        .await
        .iter()
        .map(|k| format!("{k}\n"))
        .collect();
    text(keys)
}

/// Range of entries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// First index (default 0).
    pub start: Option<i64>,
    /// End index, exclusive; clamped to the tree size and to start + 1000.
    pub end: Option<i64>,
}

/// One ledger entry: the canonical bytes and a JSON view of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    /// Leaf index.
    pub index: u64,
    /// Canonical bytes (what is hashed and signed), base64.
    pub entry_b64: String,
    /// RFC 6962 leaf hash, hex.
    pub leaf_hash_hex: String,
    /// Entry kind.
    pub kind: String,
    /// Entry id.
    pub id: String,
    /// Sequencer time, RFC 3339.
    pub time: String,
    /// Key id of the ledger key that signed it, hex.
    pub key_id: String,
    /// Decoded content (a view only).
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

/// JSON view of an entry body.
pub fn body_json(body: &Body) -> serde_json::Value {
    match body {
        Body::Genesis { origin, ledger_key } => json!({
            "origin": origin, "ledger_key": B64.encode(ledger_key),
        }),
        Body::KeyEvent {
            action,
            purpose,
            key_id,
            public_key,
        } => json!({
            "action": action.as_str(), "purpose": purpose.as_str(),
            "key_id": hex(key_id), "public_key": B64.encode(public_key),
        }),
        Body::OpenAccount {
            account,
            kind,
            flags,
            fund,
            party,
        } => json!({
            "account": account.clear(), "account_commitment": account.commitment().map(|c| hex(&c)),
            "account_kind": kind.as_str(), "flags": flags,
            "fund": (!fund.is_nil()).then_some(fund), "party": (!party.is_nil()).then_some(party),
        }),
        Body::AccountState { account, status } => json!({
            "account": account.clear(), "account_commitment": account.commitment().map(|c| hex(&c)),
            "status": status.as_str(),
        }),
        Body::Transfer {
            kind,
            category,
            reference,
            legs,
            attachment,
        } => json!({
            "transfer_kind": kind.as_str(),
            "category": category.map(|c| c.as_str()),
            "reference": (!reference.is_nil()).then_some(reference),
            "legs": legs.iter().map(|l| json!({
                "debit": l.debit.clear(), "debit_commitment": l.debit.commitment().map(|c| hex(&c)),
                "credit": l.credit.clear(), "credit_commitment": l.credit.commitment().map(|c| hex(&c)),
                "amount_cents": l.amount.0,
            })).collect::<Vec<_>>(),
            "attachment_b64": (!attachment.is_empty()).then(|| B64.encode(attachment)),
        }),
    }
}

/// A ledger index or size from the query: 0 to 2^63 − 1, as the document declares.
fn index(name: &str, v: Option<i64>) -> Result<Option<u64>, ApiError> {
    v.map(|v| required_index(name, v)).transpose()
}

fn required_index(name: &str, v: i64) -> Result<u64, ApiError> {
    u64::try_from(v).map_err(|_| {
        ApiError(
            Invalid::Query {
                issue: FieldIssue::OutOfRange(name.to_owned()),
                detail: format!("{name}: must not be negative"),
            }
            .into(),
        )
    })
}

/// Builds the view of a published entry.
fn entry_view(p: PublicEntry) -> EntryView {
    let time = i64::try_from(p.entry.entry.time_ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default();
    EntryView {
        index: p.index,
        entry_b64: B64.encode(&p.bytes),
        leaf_hash_hex: merkle::leaf_hash(&p.bytes).to_hex(),
        kind: p.entry.entry.body.kind().as_str().to_owned(),
        id: p.entry.entry.id.to_string(),
        time,
        key_id: hex(&p.entry.key_id),
        body: body_json(&p.entry.entry.body),
    }
}

/// Entries `start <= index < end` covered by the latest checkpoint, at most 1,000 per call.
#[utoipa::path(get, path = "/api/v1/ledger/entries", operation_id = "list_ledger_entries", tag = "ledger",
    params(EntriesQuery),
    responses(
        (status = 200, description = "Entries", body = Vec<EntryView>),
        (status = 400, description = "Bad range (`invalid_range`)", body = ErrorBody),
    ))]
pub async fn entries(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<EntriesQuery>,
) -> Result<Json<Vec<EntryView>>, ApiError> {
    let entries = transparency::entries(
        &state.services,
        index("start", q.start)?,
        index("end", q.end)?,
    )
    .await?;
    Ok(Json(entries.into_iter().map(entry_view).collect()))
}

/// Inclusion proof request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// Entry index.
    pub index: i64,
    /// Tree size (default: the latest checkpoint's).
    pub size: Option<i64>,
}

/// An RFC 6962 inclusion proof.
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionProof {
    /// Entry index.
    pub index: u64,
    /// Tree size.
    pub size: u64,
    /// Audit path, leaf sibling first, base64.
    pub hashes: Vec<String>,
}

/// Proves that entry `index` is in the tree of `size` entries.
#[utoipa::path(get, path = "/api/v1/ledger/proof/inclusion", operation_id = "get_inclusion_proof", tag = "ledger",
    params(InclusionQuery),
    responses(
        (status = 200, description = "Proof", body = InclusionProof),
        (status = 400, description = "Index or size out of range (`invalid_proof_request`)", body = ErrorBody),
    ))]
pub async fn inclusion(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> Result<Json<InclusionProof>, ApiError> {
    let at = required_index("index", q.index)?;
    let (size, hashes) =
        transparency::inclusion(&state.services, at, index("size", q.size)?).await?;
    Ok(Json(InclusionProof {
        index: at,
        size,
        hashes: hashes.iter().map(Hash::to_base64).collect(),
    }))
}

/// Consistency proof request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// Older tree size.
    pub from: i64,
    /// Newer tree size (default: the latest checkpoint's).
    pub to: Option<i64>,
}

/// An RFC 6962 consistency proof.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyProof {
    /// Older size.
    pub from: u64,
    /// Newer size.
    pub to: u64,
    /// Proof hashes, base64.
    pub hashes: Vec<String>,
}

/// Proves that the tree of `from` entries is a prefix of the tree of `to` entries.
#[utoipa::path(get, path = "/api/v1/ledger/proof/consistency", operation_id = "get_consistency_proof", tag = "ledger",
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "Proof", body = ConsistencyProof),
        (status = 400, description = "Sizes out of range (`invalid_proof_request`)", body = ErrorBody),
    ))]
pub async fn consistency(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let from = required_index("from", q.from)?;
    let (to, hashes) = transparency::consistency(&state.services, from, index("to", q.to)?).await?;
    Ok(Json(ConsistencyProof {
        from,
        to,
        hashes: hashes.iter().map(Hash::to_base64).collect(),
    }))
}

/// A voucher-signing public key.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoucherKey {
    /// Key id as in tokens: first 4 bytes of SHA-256(public key), hex.
    pub key_id: String,
    /// Signature algorithm.
    pub algorithm: &'static str,
    /// Ed25519 public key, base64.
    pub public_key: String,
    /// `active` (signs new tokens), `retired` (verifies tokens issued before it was retired,
    /// until `accepted_until`) or `revoked` (its tokens are refused: `key_revoked`).
    pub status: &'static str,
    /// Ledger index of the entry that added it.
    pub added_at_entry: u64,
    /// Ledger index of the entry that retired it.
    pub retired_at_entry: Option<u64>,
    /// The last day its tokens are accepted (a rotated-out key).
    pub accepted_until: Option<chrono::NaiveDate>,
    /// When it was revoked.
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Voucher-signing public keys, with their validity.
#[utoipa::path(get, path = "/api/v1/keys/voucher", operation_id = "list_voucher_keys", tag = "ledger",
    responses((status = 200, description = "Keys", body = Vec<VoucherKey>)))]
pub async fn voucher_keys(
    State(state): State<AppState>,
) -> Result<Json<Vec<VoucherKey>>, ApiError> {
    let keys = transparency::voucher_keys(&state.services).await?;
    Ok(Json(
        keys.into_iter()
            .map(|k| VoucherKey {
                key_id: k.key_id,
                algorithm: "ed25519",
                public_key: B64.encode(k.public_key),
                status: if k.revoked_at.is_some() {
                    "revoked"
                } else if k.active {
                    "active"
                } else {
                    "retired"
                },
                added_at_entry: k.added_at_entry,
                retired_at_entry: k.retired_at_entry,
                accepted_until: k.accepted_until,
                revoked_at: k.revoked_at,
            })
            .collect(),
    ))
}
