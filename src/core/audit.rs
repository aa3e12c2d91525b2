//! The offline audit: everything `kindpakket verify` checks, over entries, stored hashes and
//! checkpoints as read from a database or an export bundle.
//!
//! 1. every stored row describes the entry it holds (index, id, kind);
//! 2. every entry decodes strictly and its index is its position;
//! 3. every entry obeys the double-entry rules when replayed from the start ([`LedgerState`]);
//! 4. every entry signature verifies with the ledger key that was active for it (batch
//!    verification, falling back to one-by-one checks to name the first bad entry);
//! 5. the **full** audit (a database, or a full export with openings) opens every voucher
//!    commitment (each opening must hash to its commitment in the signed entry) and replays every
//!    voucher's balance; the **public** audit (what anyone can download: entries, checkpoints,
//!    keys) replays each fund's vouchers as one pool, with every fund, provider, bank and
//!    external balance exact;
//! 6. the Merkle tree rebuilt from the entries matches every stored hash and every stored
//!    checkpoint, and every checkpoint is signed by a ledger key of this ledger;
//! 7. the balances replay to a consistent whole (their sum is zero).

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, VerifyingKey};
use uuid::Uuid;

use super::accounts::LedgerState;
use super::entry::{AccountKind, Body, EntryKind, KeyPurpose, SignedEntry, TransferKind};
use super::merkle::{self, Frontier, Hash};
use super::money::Cents;
use super::note::{Checkpoint, Vkey};

/// One stored entry row. `id` and `kind` are the row's own columns when read from a database
/// (compared with the decoded entry); an export carries only the bytes. Stored integers are
/// kept as stored (signed), so that a damaged column is reported as it is.
#[derive(Debug, Clone)]
pub struct EntryRow {
    /// The row's index column.
    pub index: i64,
    /// The row's id column, if stored separately.
    pub id: Option<Uuid>,
    /// The row's kind column, if stored separately.
    pub kind: Option<i64>,
    /// The canonical entry bytes.
    pub bytes: Vec<u8>,
    /// The openings of the entry's voucher commitments (32 bytes each, in slot order; empty for
    /// none), in a full audit; `None` in a public one.
    pub openings: Option<Vec<u8>>,
}

impl EntryRow {
    /// The entry, decoded strictly, with its openings attached when the row has them.
    pub fn decode(&self) -> Result<SignedEntry, String> {
        let mut e = SignedEntry::decode(&self.bytes).map_err(|e| e.to_string())?;
        if let Some(o) = &self.openings {
            e.open_bytes(o).map_err(|e| e.to_string())?;
        }
        Ok(e)
    }
}

/// Everything the audit reads.
#[derive(Debug, Clone, Default)]
pub struct LedgerData {
    /// Entries in index order.
    pub entries: Vec<EntryRow>,
    /// Indexes of stored openings that belong to no entry (a full audit refuses them).
    pub orphan_openings: Vec<i64>,
    /// The stored Merkle hashes `(position, hash)`, when verifying a database.
    pub stored_hashes: Option<Vec<(i64, Hash)>>,
    /// Stored checkpoints `(size column, signed note)`.
    pub checkpoints: Vec<(i64, String)>,
    /// The service's records of vouchers and redemptions, when verifying a database: a full
    /// audit reconciles them with the ledger ([`reconcile`]).
    pub records: Option<Records>,
}

/// The first problem found, naming the entry (or checkpoint) it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditFailure {
    /// An entry is bad.
    #[error("entry {index}: {reason}")]
    Entry {
        /// Index of the first bad entry.
        index: u64,
        /// Why.
        reason: String,
    },
    /// A stored checkpoint is bad.
    #[error("checkpoint for tree size {size}: {reason}")]
    Checkpoint {
        /// The checkpoint's stored size.
        size: i64,
        /// Why.
        reason: String,
    },
    /// Something about the ledger as a whole.
    #[error("{0}")]
    Ledger(String),
}

/// What a successful audit established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// The log origin.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// Root hash over all entries.
    pub root: Hash,
    /// Checkpoints verified.
    pub checkpoints: usize,
    /// Entry signatures verified.
    pub signatures: usize,
    /// Redemptions replayed.
    pub redemptions: usize,
    /// Whether this was the full audit (openings checked, every voucher replayed) or the
    /// public one (vouchers replayed per fund as a pool).
    pub full: bool,
    /// Commitments on the ledger (all opened and checked in a full audit).
    pub commitments: usize,
    /// Sum of balances per account kind.
    pub balances: BTreeMap<&'static str, Cents>,
    /// The replayed state.
    pub state: LedgerState,
    /// Vouchers and redemptions of the service's records reconciled with the ledger (a full
    /// audit of a database).
    pub reconciled: Option<(usize, usize)>,
}

impl AuditReport {
    /// A one-line summary.
    pub fn summary(&self) -> String {
        let totals: Vec<String> = self
            .balances
            .iter()
            .map(|(k, v)| format!("{k} {}", v.0))
            .collect();
        let which = if self.full {
            format!(
                "full audit (every voucher replayed; {} commitments opened and checked)",
                self.commitments
            )
        } else {
            format!(
                "public audit (vouchers replayed per fund; {} commitments not opened)",
                self.commitments
            )
        };
        let records = match self.reconciled {
            Some((vouchers, redemptions)) => format!(
                "; the service's records reconciled: {vouchers} vouchers, {redemptions} \
                 redemptions and direct payments (accounts, amounts, token key and generation)"
            ),
            None => String::new(),
        };
        format!(
            "ok, {which}: {} entries, {} entry signatures, {} redemptions, {} checkpoints verified; root {} ; balances in cents: {}; sum 0{records}",
            self.size,
            self.signatures,
            self.redemptions,
            self.checkpoints,
            self.root.to_base64(),
            totals.join(", ")
        )
    }
}

fn entry_fail(index: u64, reason: impl Into<String>) -> AuditFailure {
    AuditFailure::Entry {
        index,
        reason: reason.into(),
    }
}

/// A signature to check: entry index, message, signature, key.
struct SigCheck {
    index: u64,
    message: Vec<u8>,
    signature: Signature,
    key: VerifyingKey,
}

/// The genesis ledger key (added by entry 0) as a verifier key.
pub fn genesis_vkey(state: &LedgerState, origin: &str) -> Option<Vkey> {
    state
        .keys(KeyPurpose::Ledger)
        .values()
        .find(|k| k.added_at == 0)
        .and_then(|k| VerifyingKey::from_bytes(&k.public_key).ok())
        .and_then(|vk| Vkey::new(origin, vk).ok())
}

/// Runs the whole audit. `trusted` is the auditor's own copy of the ledger's verifier key; when
/// given, it must be the genesis key (the one entry 0 adds): every later key is only as good as
/// the chain of signed entries that added it.
pub fn audit(data: &LedgerData, trusted: Option<&Vkey>) -> Result<AuditReport, AuditFailure> {
    // Full when every row brings its openings; public when none does.
    let full = data.entries.iter().all(|r| r.openings.is_some());
    if !full && data.entries.iter().any(|r| r.openings.is_some()) {
        return Err(AuditFailure::Ledger(
            "some entries come with openings and some without".into(),
        ));
    }
    let mut state = if full {
        LedgerState::new()
    } else {
        LedgerState::public()
    };
    let mut commitments = 0usize;
    let mut frontier = Frontier::new();
    let mut stored: Vec<Hash> = Vec::new();
    let mut roots: Vec<Hash> = Vec::with_capacity(data.entries.len() + 1);
    roots.push(merkle::empty_root());
    let mut entry_sigs: Vec<SigCheck> = Vec::with_capacity(data.entries.len());
    let mut redemptions = 0usize;
    let mut first_bad: Option<AuditFailure> = None;

    for (pos, row) in data.entries.iter().enumerate() {
        let pos = pos as u64;
        match check_entry(pos, row, &mut state) {
            Ok((sig, redeem, n)) => {
                entry_sigs.push(sig);
                redemptions += usize::from(redeem);
                commitments += n;
            }
            Err(f) => {
                first_bad = Some(f);
                break;
            }
        }
        stored.extend(frontier.append(merkle::leaf_hash(&row.bytes)));
        roots.push(frontier.root());
    }

    // Signatures are checked for every entry before the first structural failure, so that the
    // earliest bad entry is named whichever check catches it.
    if let Some(index) = first_bad_signature(&entry_sigs) {
        return Err(entry_fail(index, "ledger signature does not verify"));
    }
    if let Some(f) = first_bad {
        return Err(f);
    }
    if full && let Some(i) = data.orphan_openings.first() {
        return Err(AuditFailure::Ledger(format!(
            "openings are stored for index {i}, which has no entry"
        )));
    }
    let size = state.size();
    let origin = state
        .origin()
        .ok_or_else(|| AuditFailure::Ledger("the ledger is empty: no genesis entry".into()))?
        .to_owned();

    // Every ledger key the ledger has had, with the tree sizes it could sign for: from the
    // size after the entry that added it up to the size at which it was retired.
    let ledger_keys: Vec<(Vkey, u64, Option<u64>)> = state
        .keys(KeyPurpose::Ledger)
        .values()
        .filter_map(|k| {
            let vk = VerifyingKey::from_bytes(&k.public_key).ok()?;
            Some((Vkey::new(&origin, vk).ok()?, k.added_at + 1, k.retired_at))
        })
        .collect();
    let ledger_vkeys: Vec<Vkey> = ledger_keys.iter().map(|(v, _, _)| v.clone()).collect();
    // The trusted key must be the genesis key: every later ledger key was added by an entry
    // signed with the key then in office, so trust flows from the genesis key down the chain.
    // A later key alone proves nothing: a forger could list the real key in a ledger of their
    // own, added by an entry they signed themselves.
    if let Some(t) = trusted
        && genesis_vkey(&state, &origin).as_ref() != Some(t)
    {
        return Err(AuditFailure::Ledger(format!(
            "the trusted key {t} is not the genesis key of this ledger (pass the ledger's \
             first key, as Leergeld published it)"
        )));
    }
    let mut previous: Option<u64> = None;
    for (stored_size, note) in &data.checkpoints {
        let fail = |reason: String| AuditFailure::Checkpoint {
            size: *stored_size,
            reason,
        };
        let (cp, signed) =
            Checkpoint::verify(note, &ledger_vkeys).map_err(|e| fail(e.to_string()))?;
        let in_office = signed.signed_by.iter().any(|v| {
            ledger_keys.iter().any(|(k, from, retired)| {
                k == v && cp.size >= *from && retired.is_none_or(|r| cp.size <= r)
            })
        });
        if !in_office {
            return Err(fail(
                "signed only by a ledger key that was not active at this size".into(),
            ));
        }
        if cp.origin != origin {
            return Err(fail(format!("origin {:?} is not this ledger", cp.origin)));
        }
        if i64::try_from(cp.size) != Ok(*stored_size) {
            return Err(fail(format!("the note says size {}", cp.size)));
        }
        if cp.size > size {
            return Err(fail(format!(
                "signed for {} entries but only {size} exist",
                cp.size
            )));
        }
        if previous.is_some_and(|p| p >= cp.size) {
            return Err(fail("checkpoints are not in increasing order".into()));
        }
        previous = Some(cp.size);
        if roots[cp.size as usize] != cp.root {
            return Err(fail(format!(
                "its root does not match entries 0..{}",
                cp.size
            )));
        }
    }

    if let Some(hashes) = &data.stored_hashes {
        check_stored_hashes(hashes, &stored)?;
    }

    if state.total() != 0 {
        return Err(AuditFailure::Ledger("balances do not sum to zero".into()));
    }
    let mut balances: BTreeMap<&'static str, Cents> = BTreeMap::new();
    for kind in [
        AccountKind::External,
        AccountKind::Fund,
        AccountKind::Voucher,
        AccountKind::Provider,
        AccountKind::Bank,
    ] {
        balances.insert(kind.as_str(), Cents::ZERO);
    }
    for (_, a) in state.accounts() {
        let slot = balances.entry(a.kind.as_str()).or_default();
        *slot = slot
            .checked_add(a.balance)
            .ok_or_else(|| AuditFailure::Ledger("balance totals overflow".into()))?;
    }
    let mut report = AuditReport {
        origin,
        size,
        root: roots[size as usize],
        checkpoints: data.checkpoints.len(),
        signatures: entry_sigs.len(),
        redemptions,
        full,
        commitments,
        balances,
        state,
        reconciled: None,
    };
    if full && let Some(records) = &data.records {
        report.reconciled = Some(reconcile(&report, records)?);
    }
    Ok(report)
}

/// Checks one row and applies it; returns its signature check, whether it is a redemption and
/// how many commitments it holds.
fn check_entry(
    pos: u64,
    row: &EntryRow,
    state: &mut LedgerState,
) -> Result<(SigCheck, bool, usize), AuditFailure> {
    if i64::try_from(pos) != Ok(row.index) {
        return Err(entry_fail(pos, format!("stored at index {}", row.index)));
    }
    let mut e = SignedEntry::decode(&row.bytes).map_err(|err| entry_fail(pos, err.to_string()))?;
    if let Some(o) = &row.openings {
        e.open_bytes(o)
            .map_err(|err| entry_fail(pos, format!("bad opening: {err}")))?;
    }
    let commitments = e
        .entry
        .body
        .refs()
        .iter()
        .filter(|r| r.commitment().is_some())
        .count();
    if e.entry.index != pos {
        return Err(entry_fail(
            pos,
            format!("says it is entry {}", e.entry.index),
        ));
    }
    if row.id.is_some_and(|id| id != e.entry.id) {
        return Err(entry_fail(pos, "id column does not match the entry"));
    }
    if row
        .kind
        .is_some_and(|k| k != i64::from(e.entry.body.kind().code()))
    {
        return Err(entry_fail(pos, "kind column does not match the entry"));
    }
    // The signer must be known before this entry is applied (genesis signs itself).
    let signer = match &e.entry.body {
        Body::Genesis { ledger_key, .. } => *ledger_key,
        _ => state
            .keys(KeyPurpose::Ledger)
            .get(&e.key_id)
            .map(|k| k.public_key)
            .ok_or_else(|| entry_fail(pos, "signed by an unknown ledger key"))?,
    };
    let key = VerifyingKey::from_bytes(&signer)
        .map_err(|_| entry_fail(pos, "ledger key is not a valid public key"))?;
    let message = e
        .signing_message()
        .map_err(|err| entry_fail(pos, err.to_string()))?;
    let sig = SigCheck {
        index: pos,
        message,
        signature: Signature::from_bytes(&e.signature),
        key,
    };
    let _ = state
        .apply(&e)
        .map_err(|r| entry_fail(pos, format!("breaks a ledger rule ({}): {r}", r.code())))?;
    let redeem = matches!(
        &e.entry.body,
        Body::Transfer {
            kind: TransferKind::Redeem,
            ..
        }
    );
    debug_assert!(e.entry.body.kind() != EntryKind::Genesis || pos == 0);
    Ok((sig, redeem, commitments))
}

/// Batch-verifies in chunks; in a failing chunk, finds the first bad signature one by one.
fn first_bad_signature(checks: &[SigCheck]) -> Option<u64> {
    const CHUNK: usize = 256;
    for chunk in checks.chunks(CHUNK) {
        let messages: Vec<&[u8]> = chunk.iter().map(|c| c.message.as_slice()).collect();
        let signatures: Vec<Signature> = chunk.iter().map(|c| c.signature).collect();
        let keys: Vec<VerifyingKey> = chunk.iter().map(|c| c.key).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_err() {
            // The batch equation can fail where strict single checks pass and vice versa;
            // the strict check is authoritative.
            if let Some(bad) = chunk
                .iter()
                .find(|c| c.key.verify_strict(&c.message, &c.signature).is_err())
            {
                return Some(bad.index);
            }
        }
    }
    None
}

fn check_stored_hashes(stored: &[(i64, Hash)], expected: &[Hash]) -> Result<(), AuditFailure> {
    for (pos, (idx, hash)) in stored.iter().enumerate() {
        let pos = pos as u64;
        let record = merkle::record_of_stored_index(pos);
        if i64::try_from(pos) != Ok(*idx) {
            return Err(entry_fail(
                record,
                format!("stored Merkle hash {pos} is stored at position {idx}"),
            ));
        }
        match expected.get(pos as usize) {
            Some(h) if h == hash => {}
            Some(_) => {
                return Err(entry_fail(
                    record,
                    format!("stored Merkle hash {pos} does not match the entries"),
                ));
            }
            None => {
                return Err(AuditFailure::Ledger(format!(
                    "stored Merkle hash {pos} belongs to no entry"
                )));
            }
        }
    }
    if stored.len() != expected.len() {
        let record = merkle::record_of_stored_index(stored.len() as u64);
        return Err(entry_fail(record, "its stored Merkle hashes are missing"));
    }
    Ok(())
}

/// One voucher as the service records it (off the ledger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoucherRecord {
    /// The voucher id (the one in its token).
    pub id: Uuid,
    /// Its ledger account.
    pub account: Uuid,
    /// Its fund.
    pub fund: Uuid,
    /// Its current token generation.
    pub generation: i64,
}

/// One redemption or direct payment as the service records it (off the ledger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedemptionRecord {
    /// Its id, which is its ledger entry's id.
    pub id: Uuid,
    /// Its ledger entry's index.
    pub entry_index: i64,
    /// A direct payment (no token) rather than a redemption.
    pub direct: bool,
    /// The voucher it was charged to.
    pub voucher: Uuid,
    /// The provider's ledger account for the fund (none if the approval row is missing).
    pub provider_account: Option<Uuid>,
    /// Amount.
    pub amount_cents: i64,
    /// Category name.
    pub category: String,
    /// Key id of the token that authorised it (redemptions only).
    pub token_key_id: Option<Vec<u8>>,
    /// Generation of that token (redemptions only).
    pub token_generation: Option<i64>,
}

/// The service's own records of vouchers and redemptions, which a database audit reconciles
/// with the replayed ledger ([`reconcile`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Records {
    /// Every voucher.
    pub vouchers: Vec<VoucherRecord>,
    /// Every redemption and direct payment.
    pub redemptions: Vec<RedemptionRecord>,
}

/// Reconciles the service's records with a full audit's replay: every voucher's ledger account
/// is a voucher of its fund, used by no other voucher; every redemption and direct payment on
/// the ledger has exactly one record, and each record matches its entry (index, kind,
/// category, amount, the voucher's account debited, the provider's account credited); a
/// redemption was authorised by a token of a voucher key the ledger had added before it, of a
/// generation the voucher has had. Returns the number of vouchers and redemptions reconciled.
pub fn reconcile(report: &AuditReport, records: &Records) -> Result<(usize, usize), AuditFailure> {
    use std::collections::{HashMap, HashSet};
    let ledger = |m: String| AuditFailure::Ledger(m);
    if !report.full {
        return Err(ledger(
            "the service's records are reconciled in a full audit only".into(),
        ));
    }
    let state = &report.state;
    let mut vouchers: HashMap<Uuid, &VoucherRecord> = HashMap::new();
    let mut accounts = HashSet::new();
    for v in &records.vouchers {
        let ok = state
            .account(&v.account)
            .is_some_and(|a| a.kind == AccountKind::Voucher && a.fund == v.fund);
        if !ok {
            return Err(ledger(format!(
                "voucher {}: its ledger account {} is not a voucher of its fund on the ledger",
                v.id, v.account
            )));
        }
        if !accounts.insert(v.account) {
            return Err(ledger(format!(
                "voucher {}: its ledger account {} belongs to another voucher too",
                v.id, v.account
            )));
        }
        vouchers.insert(v.id, v);
    }
    let mut seen = HashSet::new();
    for r in &records.redemptions {
        let index = u64::try_from(r.entry_index).unwrap_or(u64::MAX);
        let bad = |reason: String| AuditFailure::Entry { index, reason };
        let t = state
            .reversible(&r.id)
            .filter(|t| t.index == index)
            .ok_or_else(|| {
                bad(format!(
                    "redemption {} is recorded here but this entry is not it",
                    r.id
                ))
            })?;
        seen.insert(r.id);
        let kind = if r.direct {
            TransferKind::DirectPayment
        } else {
            TransferKind::Redeem
        };
        let v = vouchers.get(&r.voucher).ok_or_else(|| {
            bad(format!(
                "redemption {} names voucher {}, which is not recorded",
                r.id, r.voucher
            ))
        })?;
        let leg = match t.legs.as_slice() {
            [leg] => leg,
            _ => return Err(bad("a redemption has one leg".into())),
        };
        let matches = t.kind == kind
            && t.category.map(|c| c.as_str()) == Some(r.category.as_str())
            && leg.amount.0 == r.amount_cents
            && leg.debit == v.account
            && Some(leg.credit) == r.provider_account;
        if !matches {
            return Err(bad(format!(
                "redemption {} as recorded (voucher, provider, amount, category, kind) differs \
                 from the entry",
                r.id
            )));
        }
        match (r.direct, &r.token_key_id, r.token_generation) {
            (true, None, None) => {}
            (false, Some(key), Some(generation)) => {
                let added = <[u8; 4]>::try_from(key.as_slice())
                    .ok()
                    .and_then(|k| state.keys(KeyPurpose::Voucher).get(&k))
                    .map(|k| k.added_at);
                if added.is_none_or(|at| at >= index) {
                    return Err(bad(format!(
                        "redemption {}: its token's key was not a voucher key on the ledger \
                         before it",
                        r.id
                    )));
                }
                if !(0..=v.generation).contains(&generation) {
                    return Err(bad(format!(
                        "redemption {}: its token's generation {generation} is not one the \
                         voucher has had",
                        r.id
                    )));
                }
            }
            _ => {
                return Err(bad(format!(
                    "redemption {}: how it was authorised is missing or does not fit its kind",
                    r.id
                )));
            }
        }
    }
    if let Some((id, t)) = state
        .reversibles()
        .filter(|(id, _)| !seen.contains(*id))
        .min_by_key(|(_, t)| t.index)
    {
        return Err(AuditFailure::Entry {
            index: t.index,
            reason: format!("redemption {id} is on the ledger but not recorded by the service"),
        });
    }
    Ok((records.vouchers.len(), records.redemptions.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::accounts::pool_id;
    use crate::core::accounts::tests::{Chain, ORIGIN, rich_chain};
    use crate::core::entry::Opening;
    use crate::core::note::NoteSigner;

    /// What a database holds: every row with its openings (a full audit).
    fn data_of(c: &Chain, checkpoint_sizes: &[u64]) -> LedgerData {
        let entries: Vec<EntryRow> = c
            .entries
            .iter()
            .map(|e| EntryRow {
                index: e.entry.index as i64,
                id: Some(e.entry.id),
                kind: Some(i64::from(e.entry.body.kind().code())),
                bytes: e.encode().unwrap(),
                openings: Some(Opening::encode_all(&e.entry.body.openings().unwrap())),
            })
            .collect();
        let mut f = Frontier::new();
        let mut stored = Vec::new();
        let mut roots = vec![merkle::empty_root()];
        for e in &entries {
            stored.extend(f.append(merkle::leaf_hash(&e.bytes)));
            roots.push(f.root());
        }
        let checkpoints = checkpoint_sizes
            .iter()
            .map(|s| {
                let cp = Checkpoint {
                    origin: ORIGIN.into(),
                    size: *s,
                    root: roots[*s as usize],
                };
                (
                    *s as i64,
                    cp.sign(&[NoteSigner {
                        name: ORIGIN,
                        key: &c.key,
                    }])
                    .unwrap(),
                )
            })
            .collect();
        LedgerData {
            entries,
            orphan_openings: Vec::new(),
            stored_hashes: Some(
                stored
                    .into_iter()
                    .enumerate()
                    .map(|(i, h)| (i as i64, h))
                    .collect(),
            ),
            checkpoints,
            records: None,
        }
    }

    /// What anyone can download: the same rows without openings (a public audit).
    fn public(mut d: LedgerData) -> LedgerData {
        for r in &mut d.entries {
            r.openings = None;
        }
        d
    }

    fn busy_chain() -> Chain {
        let mut c = Chain::new();
        let (_, voucher, provider) = c.world(100_000, 25_000);
        c.transfer(TransferKind::Redeem, voucher, provider, 1_000)
            .unwrap();
        c.transfer(TransferKind::Redeem, voucher, provider, 2_000)
            .unwrap();
        c
    }

    #[test]
    fn a_good_ledger_passes_and_reports_its_balances() {
        let c = busy_chain();
        let n = c.entries.len() as u64;
        let data = data_of(&c, &[1, 4, n]);
        let trusted = Vkey::new(ORIGIN, c.key.verifying_key()).unwrap();
        let r = audit(&data, Some(&trusted)).unwrap();
        assert_eq!(r.size, n);
        assert_eq!(r.redemptions, 2);
        assert_eq!(r.signatures as u64, n);
        assert_eq!(r.balances["external"], Cents(-100_000));
        assert_eq!(r.balances["provider"], Cents(3_000));
        assert_eq!(r.balances["voucher"], Cents(22_000));
        assert!(r.full);
        // The issue (which opened the voucher) and two redemptions.
        assert_eq!(r.commitments, 3);
        assert!(
            r.summary().starts_with("ok, full audit ("),
            "{}",
            r.summary()
        );
        assert!(r.summary().contains("3 commitments opened and checked"));
        // The full audit replays every voucher, like the writer did.
        assert_eq!(r.state, c.state);
    }

    #[test]
    fn the_same_rows_without_openings_pass_a_public_audit() {
        let (c, rich) = rich_chain();
        let n = c.entries.len() as u64;
        let data = data_of(&c, &[3, n]);
        let trusted = Vkey::new(ORIGIN, c.key.verifying_key()).unwrap();
        let full = audit(&data, Some(&trusted)).unwrap();
        assert!(full.full);
        assert!(
            full.summary().starts_with("ok, full audit ("),
            "{}",
            full.summary()
        );
        assert_eq!(full.state, c.state);
        let p = audit(&public(data.clone()), Some(&trusted)).unwrap();
        assert!(!p.full);
        assert!(
            p.summary().starts_with("ok, public audit ("),
            "{}",
            p.summary()
        );
        assert!(!p.summary().contains("full audit"));
        assert!(p.state.is_public());
        // Same size, root, signatures, redemptions and commitments; the same totals per kind.
        assert_eq!(
            (p.size, p.root, p.signatures),
            (full.size, full.root, full.signatures)
        );
        assert_eq!(
            (p.redemptions, p.checkpoints),
            (full.redemptions, full.checkpoints)
        );
        assert_eq!(p.commitments, full.commitments);
        assert!(p.commitments > 0);
        assert_eq!(p.balances, full.balances);
        // Every clear account exactly, each fund's vouchers as its pool.
        for (id, a) in full.state.accounts() {
            if a.kind != AccountKind::Voucher {
                assert_eq!(p.state.account(id), Some(a));
            }
        }
        for f in rich.funds {
            let sum: i64 = full
                .state
                .accounts()
                .filter(|(_, a)| a.kind == AccountKind::Voucher && a.fund == f)
                .map(|(_, a)| a.balance.0)
                .sum();
            assert_eq!(p.state.account(&pool_id(&f)).unwrap().balance.0, sum);
        }
        // Orphan openings matter only where there are openings.
        let mut d = public(data.clone());
        d.orphan_openings = vec![n as i64];
        audit(&d, None).unwrap();
    }

    #[test]
    fn flipping_any_bit_of_any_opening_fails_the_full_audit_at_that_entry() {
        let (c, _) = rich_chain();
        let n = c.entries.len() as u64;
        let data = data_of(&c, &[n]);
        let mut flipped = 0;
        for i in 0..data.entries.len() {
            let len = data.entries[i].openings.as_ref().unwrap().len();
            for bit in 0..len * 8 {
                let mut d = data.clone();
                d.entries[i].openings.as_mut().unwrap()[bit / 8] ^= 1 << (bit % 8);
                let r = audit(&d, None);
                let Err(f @ AuditFailure::Entry { index, .. }) = &r else {
                    panic!("entry {i} bit {bit}: {r:?}")
                };
                assert_eq!(*index, i as u64, "entry {i} bit {bit}");
                assert!(
                    f.to_string()
                        .starts_with(&format!("entry {i}: bad opening")),
                    "{f}"
                );
                flipped += 1;
                // The public audit of the same data does not look at openings.
                if bit == 0 {
                    audit(&public(d), None).unwrap();
                }
            }
        }
        let commitments = audit(&data, None).unwrap().commitments;
        assert!(commitments >= 13, "{commitments}");
        assert_eq!(flipped, commitments * 256);
    }

    #[test]
    fn missing_extra_mixed_or_orphan_openings_are_refused() {
        let (c, _) = rich_chain();
        let n = c.entries.len() as u64;
        let data = data_of(&c, &[n]);
        let with = |i: usize| data.entries[i].openings.as_ref().unwrap().len();
        let committed = (0..data.entries.len()).find(|i| with(*i) > 0).unwrap();
        let two = (0..data.entries.len()).find(|i| with(*i) >= 64).unwrap();
        let plain = (1..data.entries.len()).find(|i| with(*i) == 0).unwrap();
        let fails_at = |d: &LedgerData, i: usize, what: &str| {
            let r = audit(d, None);
            match &r {
                Err(f @ AuditFailure::Entry { index, .. }) if *index == i as u64 => {
                    assert!(
                        f.to_string()
                            .starts_with(&format!("entry {i}: bad opening")),
                        "{f}"
                    );
                    assert!(f.to_string().contains(what), "{f}");
                }
                _ => panic!("{what}: {r:?}"),
            }
        };
        // Missing: none, or one of two.
        let mut d = data.clone();
        d.entries[committed].openings = Some(Vec::new());
        fails_at(&d, committed, "no opening");
        let mut d = data.clone();
        d.entries[two].openings.as_mut().unwrap().truncate(32);
        fails_at(&d, two, "no opening");
        // Extra: for an entry without commitments, or one too many.
        let mut d = data.clone();
        d.entries[plain].openings = Some(vec![7; 32]);
        fails_at(&d, plain, "more openings");
        let mut d = data.clone();
        let first = d.entries[committed].openings.as_ref().unwrap()[..32].to_vec();
        d.entries[committed]
            .openings
            .as_mut()
            .unwrap()
            .extend(first);
        fails_at(&d, committed, "more openings");
        // Not whole openings.
        let mut d = data.clone();
        d.entries[committed].openings.as_mut().unwrap().pop();
        fails_at(&d, committed, "multiple of 32");
        // Swapped: the openings of two commitments in the wrong slot order.
        let mut d = data.clone();
        let o = d.entries[two].openings.as_mut().unwrap();
        let (a, b) = o.split_at_mut(32);
        a.swap_with_slice(&mut b[..32]);
        fails_at(&d, two, "does not match");
        // A mix of rows with and without openings is neither audit.
        for i in [0, committed, plain, data.entries.len() - 1] {
            let mut d = data.clone();
            d.entries[i].openings = None;
            assert!(
                matches!(audit(&d, None), Err(AuditFailure::Ledger(m)) if m.contains("some entries")),
                "row {i} without openings"
            );
            let mut d = public(data.clone());
            d.entries[i].openings = data.entries[i].openings.clone();
            assert!(
                matches!(audit(&d, None), Err(AuditFailure::Ledger(m)) if m.contains("some entries")),
                "row {i} with openings"
            );
        }
        // Openings stored for an index without an entry.
        let mut d = data.clone();
        d.orphan_openings = vec![n as i64];
        assert!(matches!(
            audit(&d, None),
            Err(AuditFailure::Ledger(m)) if m.contains(&format!("index {n}"))
        ));
        audit(&data, None).unwrap();
    }

    #[test]
    fn flipping_any_bit_of_any_entry_names_that_entry() {
        let c = busy_chain();
        let n = c.entries.len() as u64;
        let data = data_of(&c, &[n]);
        for d0 in [data.clone(), public(data)] {
            for i in 0..d0.entries.len() {
                for b in 0..d0.entries[i].bytes.len() {
                    for bit in 0..8 {
                        let mut d = d0.clone();
                        d.entries[i].bytes[b] ^= 1 << bit;
                        match audit(&d, None) {
                            Err(AuditFailure::Entry { index, .. }) => {
                                assert_eq!(index, i as u64, "bit {bit} of byte {b} of entry {i}");
                            }
                            other => panic!("bit {bit} of byte {b} of entry {i}: {other:?}"),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn tampered_hashes_checkpoints_and_row_columns_are_caught() {
        let c = busy_chain();
        let n = c.entries.len() as u64;
        let data = data_of(&c, &[3, n]);
        let stored_len = data.stored_hashes.as_ref().unwrap().len();
        for pos in 0..stored_len {
            let mut d = data.clone();
            d.stored_hashes.as_mut().unwrap()[pos].1[7] ^= 1;
            let expected = merkle::record_of_stored_index(pos as u64);
            assert!(
                matches!(audit(&d, None), Err(AuditFailure::Entry { index, .. }) if index == expected),
                "hash {pos}"
            );
        }
        for k in 0..data.checkpoints.len() {
            for b in 0..data.checkpoints[k].1.len() {
                let mut d = data.clone();
                let mut bytes = d.checkpoints[k].1.clone().into_bytes();
                bytes[b] ^= 0x01;
                let Ok(note) = String::from_utf8(bytes) else {
                    continue;
                };
                d.checkpoints[k].1 = note;
                assert!(
                    matches!(audit(&d, None), Err(AuditFailure::Checkpoint { .. })),
                    "checkpoint {k} byte {b}"
                );
            }
        }
        let mut d = data.clone();
        d.entries[2].id = Some(Uuid::nil());
        assert!(matches!(
            audit(&d, None),
            Err(AuditFailure::Entry { index: 2, .. })
        ));
        let mut d = data.clone();
        d.entries[3].kind = Some(9);
        assert!(matches!(
            audit(&d, None),
            Err(AuditFailure::Entry { index: 3, .. })
        ));
        let mut d = data.clone();
        d.entries.swap(4, 5);
        assert!(matches!(
            audit(&d, None),
            Err(AuditFailure::Entry { index: 4, .. })
        ));
        let mut d = data.clone();
        d.entries.pop();
        assert!(matches!(
            audit(&d, None),
            Err(AuditFailure::Checkpoint { .. })
        ));
    }

    #[test]
    fn a_retired_ledger_key_cannot_sign_later_checkpoints() {
        use crate::core::entry::{Body, KeyAction};
        let mut c = busy_chain();
        let old = c.key.clone();
        let new = ed25519_dalek::SigningKey::from_bytes(&[44; 32]);
        let new_pk = *new.verifying_key().as_bytes();
        let new_id = crate::core::note::key_id(ORIGIN, &new_pk);
        c.push(Body::KeyEvent {
            action: KeyAction::Added,
            purpose: KeyPurpose::Ledger,
            key_id: new_id,
            public_key: new_pk,
        })
        .unwrap();
        let (old_id, old_pk) = (c.key_id, *old.verifying_key().as_bytes());
        c.key = new.clone();
        c.key_id = new_id;
        c.push(Body::KeyEvent {
            action: KeyAction::Retired,
            purpose: KeyPurpose::Ledger,
            key_id: old_id,
            public_key: old_pk,
        })
        .unwrap();
        let n = c.entries.len() as u64;
        // data_of signs with c.key (the new key): fine at the final size.
        let good = data_of(&c, &[n - 1, n]);
        audit(&good, None).unwrap();
        // The same final checkpoint signed by the retired key is refused.
        let mut bad = good.clone();
        let root = audit(&good, None).unwrap().root;
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: n,
            root,
        };
        bad.checkpoints[1].1 = cp
            .sign(&[NoteSigner {
                name: ORIGIN,
                key: &old,
            }])
            .unwrap();
        assert!(matches!(
            audit(&bad, None),
            Err(AuditFailure::Checkpoint { .. })
        ));
        // Pinning the old (genesis) key still works: the chain of keys leads to the new one.
        let pinned = Vkey::new(ORIGIN, old.verifying_key()).unwrap();
        audit(&good, Some(&pinned)).unwrap();
    }

    /// A forger's ledger that lists the real ledger key (added by an entry the forger signed)
    /// is refused when the auditor pins the real key: only the genesis key is a trust anchor.
    #[test]
    fn a_forged_ledger_that_lists_the_real_key_is_refused() {
        let mut c = busy_chain();
        let real = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let real_pk = *real.verifying_key().as_bytes();
        c.push(Body::KeyEvent {
            action: crate::core::entry::KeyAction::Added,
            purpose: KeyPurpose::Ledger,
            key_id: crate::core::note::key_id(ORIGIN, &real_pk),
            public_key: real_pk,
        })
        .unwrap();
        let n = c.entries.len() as u64;
        let data = data_of(&c, &[n]);
        let real_vkey = Vkey::new(ORIGIN, real.verifying_key()).unwrap();
        let r = audit(&data, Some(&real_vkey));
        assert!(
            matches!(&r, Err(AuditFailure::Ledger(m)) if m.contains("not the genesis key")),
            "{r:?}"
        );
        let forger = Vkey::new(ORIGIN, c.key.verifying_key()).unwrap();
        let r = audit(&data, Some(&forger)).unwrap();
        assert_eq!(genesis_vkey(&r.state, ORIGIN), Some(forger));
    }

    #[test]
    fn an_untrusted_key_or_a_foreign_checkpoint_fails() {
        let c = busy_chain();
        let data = data_of(&c, &[2]);
        let stranger = Vkey::new(
            ORIGIN,
            ed25519_dalek::SigningKey::from_bytes(&[42; 32]).verifying_key(),
        )
        .unwrap();
        assert!(matches!(
            audit(&data, Some(&stranger)),
            Err(AuditFailure::Ledger(_))
        ));
        let mut d = data.clone();
        let other = ed25519_dalek::SigningKey::from_bytes(&[43; 32]);
        let cp = Checkpoint {
            origin: ORIGIN.into(),
            size: 2,
            root: Hash([0; 32]),
        };
        d.checkpoints = vec![(
            2,
            cp.sign(&[NoteSigner {
                name: ORIGIN,
                key: &other,
            }])
            .unwrap(),
        )];
        assert!(matches!(
            audit(&d, None),
            Err(AuditFailure::Checkpoint { size: 2, .. })
        ));
    }
}
