#!/usr/bin/env python3
"""Independent check of the kindpakket ledger test vectors (ledger format version 2).

Implements docs/ledger-format.md from scratch (Python standard library plus the
`cryptography` package for Ed25519) and checks tests/vectors/ledger-v2.json:

  * every entry decodes strictly (account references: 0x01 clear, 0x02 committed), matches the
    decoded view in the JSON and re-encodes to the same bytes; single-bit flips are refused or
    break the signature;
  * every entry signature verifies with the ledger key active for it; key ids match the keys;
  * every entry's openings (salt || account, 32 bytes per commitment, in slot order) hash to
    its commitments, none is missing or left over, and flipping any bit of one breaks it;
  * the **public** audit replays the entries without openings: each fund's vouchers are one
    pool account, created by the fund's first issue, every clear balance is exact, no
    commitment appears twice; its balances match the JSON;
  * the **full** audit replays the entries with their openings, every voucher on its own,
    opened by its first issue (no open_account opens a voucher); its balances match the JSON;
  * a few entries changed in memory are refused by the replay with the documented rejection
    codes (the replay rules do not look at signatures);
  * leaf hashes and the RFC 6962 root match; the checkpoint note is well formed and its
    signature verifies; the tlog-proof of the redemption leads to the checkpoint root;
  * the redemption carries nothing of its token: the holder's KP1 token in the JSON decodes,
    matches its text form, its signature verifies with the voucher key the ledger added, and
    no entry contains the token, a 16-byte piece of its signature, its SHA-256, the voucher id
    inside it or the voucher's ledger account.

Usage: python3 tests/vectors/verify_vectors.py [path/to/ledger-v2.json]
Exits 0 and prints a summary when everything matches, 1 otherwise.
"""

import base64
import copy
import hashlib
import json
import os
import struct
import sys
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

# ---------------------------------------------------------------------------------------------
# Constants from the specification.

VERSION = 2
ENTRY_CONTEXT = b"kindpakket/ledger-entry/v2\x00"
COMMITMENT_CONTEXT = b"kindpakket/voucher-commitment/v2\x00"
POOL_CONTEXT = b"kindpakket/voucher-pool/v2\x00"
TOKEN_CONTEXT = b"KINDPAKKET-VOUCHER-V1\x00"
HEADER_LEN = 36
TRAILER_LEN = 4 + 64
REF_CLEAR = 0x01
REF_COMMITTED = 0x02
OPENING_LEN = 32
FLAG_NO_NEGATIVE = 0x0001
KNOWN_FLAGS = FLAG_NO_NEGATIVE
I64_MAX = 2**63 - 1
NOTE_ALG_ED25519 = 0x01
TOKEN_FORMAT = 0x01
TOKEN_BYTES = 91
TOKEN_SIGNED_BYTES = 27
TOKEN_PREFIX = "KP1:"
TOKEN_CHARS = 150
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
EM_DASH_PREFIX = "\u2014 "
NIL = str(uuid.UUID(int=0))

ENTRY_KINDS = {1: "genesis", 2: "key_event", 3: "open_account", 4: "account_state", 5: "transfer"}
KEY_ACTIONS = {1: "added", 2: "retired"}
KEY_PURPOSES = {1: "ledger", 2: "voucher"}
ACCOUNT_KINDS = {1: "external", 2: "fund", 3: "voucher", 4: "provider", 5: "bank"}
ACCOUNT_STATUSES = {1: "active", 2: "blocked", 3: "closed"}
TRANSFER_KINDS = {
    1: "deposit",
    2: "issue",
    3: "redeem",
    4: "reverse",
    5: "top_up",
    6: "expire",
    7: "direct_payment",
    8: "payout",
    9: "deposit_correction",
}
CATEGORIES = {1: "sport", 2: "cultuur", 3: "school", 4: "overig"}


def inverse(d):
    return {v: k for k, v in d.items()}


# Unicode White_Space code points (what the spec forbids in key names, with '+').
WHITE_SPACE = set(
    [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
    + list(range(0x2000, 0x200B))
)


class Mismatch(Exception):
    pass


class DecodeError(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Mismatch(what)


def valid_key_name(name):
    return name != "" and not any(ord(c) in WHITE_SPACE or c == "+" for c in name)


# ---------------------------------------------------------------------------------------------
# Entry decoding and encoding.


class Reader:
    def __init__(self, b):
        self.b = b
        self.pos = 0

    def take(self, n):
        if len(self.b) - self.pos < n:
            raise DecodeError("truncated")
        out = self.b[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def uuid(self):
        return str(uuid.UUID(bytes=self.take(16)))

    def hex(self, n):
        return self.take(n).hex()

    def ref(self):
        """An account reference: 0x01 || uuid (clear) or 0x02 || commitment[32]."""
        tag = self.u8()
        if tag == REF_CLEAR:
            return {"clear": self.uuid()}
        if tag == REF_COMMITTED:
            return {"commitment": self.hex(32)}
        raise DecodeError("unknown account reference tag %d" % tag)

    def finish(self):
        if self.pos != len(self.b):
            raise DecodeError("trailing bytes")


def enum(table, code, what):
    if code not in table:
        raise DecodeError("unknown " + what)
    return table[code]


def decode_body(kind, r):
    if kind == "genesis":
        n = r.u8()
        try:
            origin = r.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("origin is not UTF-8")
        if not valid_key_name(origin):
            raise DecodeError("invalid origin")
        return {"origin": origin, "ledger_key": r.hex(32)}
    if kind == "key_event":
        return {
            "action": enum(KEY_ACTIONS, r.u8(), "key action"),
            "purpose": enum(KEY_PURPOSES, r.u8(), "key purpose"),
            "key_id": r.hex(4),
            "public_key": r.hex(32),
        }
    if kind == "open_account":
        account = r.ref()
        akind = enum(ACCOUNT_KINDS, r.u8(), "account kind")
        flags = r.u16()
        if flags & ~KNOWN_FLAGS:
            raise DecodeError("unknown account flags")
        return {"account": account, "kind": akind, "flags": flags, "fund": r.uuid(), "party": r.uuid()}
    if kind == "account_state":
        return {"account": r.ref(), "status": enum(ACCOUNT_STATUSES, r.u8(), "account status")}
    if kind == "transfer":
        tkind = enum(TRANSFER_KINDS, r.u8(), "transfer kind")
        c = r.u8()
        category = None if c == 0 else enum(CATEGORIES, c, "category")
        reference = r.uuid()
        n = r.u8()
        if n == 0:
            raise DecodeError("transfer without legs")
        legs = []
        for _ in range(n):
            debit, credit, amount = r.ref(), r.ref(), r.u64()
            if amount == 0 or amount > I64_MAX:
                raise DecodeError("leg amount")
            legs.append({"debit": debit, "credit": credit, "amount": amount})
        attachment = r.hex(r.u16())
        return {
            "kind": tkind,
            "category": category,
            "reference": reference,
            "legs": legs,
            "attachment": attachment,
        }
    raise AssertionError(kind)


def decode_entry(b):
    """Strictly decodes a SignedEntry into the same shape as the JSON `entries` items."""
    r = Reader(b)
    version = r.u8()
    if version != VERSION:
        raise DecodeError("unknown version %d" % version)
    kind = enum(ENTRY_KINDS, r.u8(), "entry kind")
    index, time_ms = r.u64(), r.u64()
    eid = r.uuid()
    body_len = r.u16()
    br = Reader(r.take(body_len))
    body = decode_body(kind, br)
    br.finish()
    key_id, signature = r.hex(4), r.hex(64)
    r.finish()
    return {
        "index": index,
        "time_ms": time_ms,
        "id": eid,
        "kind": kind,
        "body": body,
        "key_id": key_id,
        "signature": signature,
    }


def ub(u):
    return uuid.UUID(u).bytes


def encode_ref(ref):
    if "clear" in ref:
        return bytes([REF_CLEAR]) + ub(ref["clear"])
    c = bytes.fromhex(ref["commitment"])
    check(len(c) == 32, "commitment length")
    return bytes([REF_COMMITTED]) + c


def encode_body(kind, body):
    if kind == "genesis":
        o = body["origin"].encode("utf-8")
        check(1 <= len(o) <= 255, "origin length")
        return bytes([len(o)]) + o + bytes.fromhex(body["ledger_key"])
    if kind == "key_event":
        return (
            bytes([inverse(KEY_ACTIONS)[body["action"]], inverse(KEY_PURPOSES)[body["purpose"]]])
            + bytes.fromhex(body["key_id"])
            + bytes.fromhex(body["public_key"])
        )
    if kind == "open_account":
        return (
            encode_ref(body["account"])
            + bytes([inverse(ACCOUNT_KINDS)[body["kind"]]])
            + struct.pack(">H", body["flags"])
            + ub(body["fund"])
            + ub(body["party"])
        )
    if kind == "account_state":
        return encode_ref(body["account"]) + bytes([inverse(ACCOUNT_STATUSES)[body["status"]]])
    if kind == "transfer":
        cat = 0 if body["category"] is None else inverse(CATEGORIES)[body["category"]]
        out = bytes([inverse(TRANSFER_KINDS)[body["kind"]], cat]) + ub(body["reference"])
        check(1 <= len(body["legs"]) <= 255, "leg count")
        out += bytes([len(body["legs"])])
        for leg in body["legs"]:
            check(1 <= leg["amount"] <= I64_MAX, "leg amount")
            out += encode_ref(leg["debit"]) + encode_ref(leg["credit"]) + struct.pack(">Q", leg["amount"])
        att = bytes.fromhex(body["attachment"])
        return out + struct.pack(">H", len(att)) + att
    raise AssertionError(kind)


def encode_content(e):
    body = encode_body(e["kind"], e["body"])
    check(len(body) <= 0xFFFF, "body too long")
    return (
        bytes([VERSION, inverse(ENTRY_KINDS)[e["kind"]]])
        + struct.pack(">QQ", e["index"], e["time_ms"])
        + ub(e["id"])
        + struct.pack(">H", len(body))
        + body
    )


def encode_entry(e):
    return encode_content(e) + bytes.fromhex(e["key_id"]) + bytes.fromhex(e["signature"])


def entry_signing_message(e):
    return ENTRY_CONTEXT + encode_content(e) + bytes.fromhex(e["key_id"])


# ---------------------------------------------------------------------------------------------
# Account references, commitments, openings, pools.


def refs(e):
    """The entry's account references in slot order."""
    b = e["body"]
    if e["kind"] in ("open_account", "account_state"):
        return [b["account"]]
    if e["kind"] == "transfer":
        out = []
        for leg in b["legs"]:
            out += [leg["debit"], leg["credit"]]
        return out
    return []


def commitment_of(salt, account):
    """SHA-256("kindpakket/voucher-commitment/v2" || 0x00 || salt[16] || account[16])."""
    return hashlib.sha256(COMMITMENT_CONTEXT + salt + account).digest()


def pool_id(fund):
    """The public replay's pool account of a fund: SHA-256(context || fund)[:16]."""
    return str(uuid.UUID(bytes=hashlib.sha256(POOL_CONTEXT + ub(fund)).digest()[:16]))


def split_openings(raw):
    """Stored openings: 32 bytes each (salt[16] || account[16])."""
    check(len(raw) % OPENING_LEN == 0, "bad opening: openings are not a multiple of 32 bytes")
    return [(raw[i : i + 16], raw[i + 16 : i + 32]) for i in range(0, len(raw), OPENING_LEN)]


def open_entry(e, raw):
    """Matches an entry's openings to its commitments in slot order: returns, per slot, the
    account the reference names (a uuid string; the opening's account for a commitment). Raises
    Mismatch naming the problem, as the full audit does ("bad opening")."""
    openings = split_openings(raw)
    out = []
    it = iter(openings)
    for r in refs(e):
        if "clear" in r:
            out.append(r["clear"])
            continue
        o = next(it, None)
        check(o is not None, "bad opening: a commitment has no opening")
        salt, account = o
        check(commitment_of(salt, account).hex() == r["commitment"], "bad opening: an opening does not match its commitment")
        out.append(str(uuid.UUID(bytes=account)))
    check(next(it, None) is None, "bad opening: more openings than commitments")
    return out


# ---------------------------------------------------------------------------------------------
# Keys, signatures, hashes.


def ed25519_ok(public_key, signature, message):
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def note_key_id(name, public_key):
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([NOTE_ALG_ED25519]) + public_key).digest()[:4]


def voucher_key_id(public_key):
    return hashlib.sha256(public_key).digest()[:4]


def leaf_hash(entry_bytes):
    return hashlib.sha256(b"\x00" + entry_bytes).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(leaves):
    """RFC 6962 Merkle Tree Hash over leaf hashes."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def b64decode_strict(s):
    raw = base64.b64decode(s, validate=True)
    check(base64.b64encode(raw).decode("ascii") == s, "non-canonical base64 " + repr(s))
    return raw


# ---------------------------------------------------------------------------------------------
# Signed notes, checkpoints, tlog-proofs.


def open_note(note, name, public_key):
    """Verifies a signed note signed by (name, public_key); returns its text."""
    cut = note.rfind("\n\n")
    check(cut >= 0, "note has no blank line")
    text, sigs = note[: cut + 1], note[cut + 2 :]
    check(text.endswith("\n") and not text.startswith("\n") and "\n\n" not in text, "note text")
    check(all(c == "\n" or not (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0) for c in text), "control characters")
    check(sigs.endswith("\n") and sigs != "\n", "note signatures must end in a newline")
    want_id = note_key_id(name, public_key)
    found = 0
    for line in sigs[:-1].split("\n"):
        check(line.startswith(EM_DASH_PREFIX), "signature line must start with an em dash")
        sname, b64 = line[len(EM_DASH_PREFIX) :].split(" ", 1)
        check(valid_key_name(sname), "key name on signature line")
        blob = b64decode_strict(b64)
        check(len(blob) >= 5, "signature too short")
        if sname == name and blob[:4] == want_id:
            check(len(blob) == 68, "Ed25519 note signature length")
            check(ed25519_ok(public_key, blob[4:], text.encode("utf-8")), "note signature does not verify")
            found += 1
    check(found >= 1, "no signature by the ledger key")
    return text


def parse_checkpoint(text):
    lines = text[:-1].split("\n")
    check(len(lines) >= 3, "checkpoint has origin, size and root")
    origin, size, root = lines[0], lines[1], lines[2]
    check(origin != "", "empty origin")
    check(size.isascii() and size.isdigit() and (size == "0" or not size.startswith("0")), "size")
    check(all(extra != "" for extra in lines[3:]), "empty extension line")
    root = b64decode_strict(root)
    check(len(root) == 32, "root length")
    return origin, int(size), root


def parse_tlog_proof(text):
    check(text.startswith(PROOF_HEADER + "\n"), "tlog-proof header")
    rest = text[len(PROOF_HEADER) + 1 :]
    line, rest = rest.split("\n", 1)
    extra = None
    if line.startswith("extra "):
        extra = b64decode_strict(line[6:])
        line, rest = rest.split("\n", 1)
    check(line.startswith("index "), "index line")
    idx = line[6:]
    check(idx.isascii() and idx.isdigit() and (idx == "0" or not idx.startswith("0")), "index")
    hashes = []
    while True:
        line, rest = rest.split("\n", 1)
        if line == "":
            break
        h = b64decode_strict(line)
        check(len(h) == 32, "proof hash length")
        hashes.append(h)
    check(len(hashes) <= 63, "too many proof hashes")
    check(rest != "", "missing checkpoint")
    return extra, int(idx), hashes, rest


# ---------------------------------------------------------------------------------------------
# KP1 voucher tokens.


def decode_signed_fields(b):
    """The first 27 bytes of a token: its signed fields."""
    check(len(b) == TOKEN_SIGNED_BYTES, "signed fields length")
    check(b[0] == TOKEN_FORMAT, "token format")
    check(b[25] & ~0x0F == 0, "token categories")
    return {
        "key_id": b[1:5],
        "voucher": str(uuid.UUID(bytes=b[5:21])),
        "expiry": struct.unpack(">I", b[21:25])[0],
        "categories": b[25],
        "generation": b[26],
    }


def decode_token(b):
    """The 91-byte KP1 token: signed fields, then the Ed25519 signature."""
    check(len(b) == TOKEN_BYTES, "token length")
    t = decode_signed_fields(b[:TOKEN_SIGNED_BYTES])
    t["message"] = TOKEN_CONTEXT + b[:TOKEN_SIGNED_BYTES]
    t["signature"] = b[TOKEN_SIGNED_BYTES:]
    return t


def parse_token_text(text):
    check(text.startswith(TOKEN_PREFIX) and len(text) == TOKEN_CHARS, "token text shape")
    body = text[len(TOKEN_PREFIX) :]
    check(all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in body), "token alphabet")
    raw = base64.b32decode(body + "=" * (-len(body) % 8))
    check(len(raw) == TOKEN_BYTES, "token length")
    check(base64.b32encode(raw).decode("ascii").rstrip("=") == body, "token padding bits")
    return raw


# ---------------------------------------------------------------------------------------------
# Ledger rules (replay): the full audit (openings, every voucher) and the public audit (no
# openings, each fund's vouchers as one pool account).


class Rejected(Exception):
    def __init__(self, code, why):
        super().__init__("%s (%s)" % (why, code))
        self.code = code


def rule(cond, code, why):
    if not cond:
        raise Rejected(code, why)


class Ledger:
    def __init__(self, public):
        self.public = public
        self.origin = None
        self.size = 0
        self.last_time = 0
        self.ids = set()
        self.keys = {"ledger": {}, "voucher": {}}  # key id hex -> [public key bytes, retired?]
        self.accounts = {}  # uuid -> dict(kind, flags, fund, party, status, balance)
        self.pool_ids = set()  # the pool id of every fund: reserved in both replays
        self.commitments = set()  # every commitment on the ledger (hex)
        self.reversible = {}  # entry id -> {"legs": [(debit, credit, amount)], "category", "reversed"}
        self.deposits = {}  # entry id -> [(debit, credit, amount)]
        self.corrected = {}  # (deposit id, fund, external account) -> cents taken back so far

    def signer(self, e):
        """The public key that must have signed entry e (before applying it)."""
        if e["kind"] == "genesis":
            return bytes.fromhex(e["body"]["ledger_key"])
        k = self.keys["ledger"].get(e["key_id"])
        rule(k is not None and not k[1], "unknown_signer", "not signed by an active ledger key")
        return k[0]

    def apply(self, e, names=None):
        """Applies entry e. `names` is, per slot, the account each reference names (from the
        openings: open_entry), in a full replay; None in a public one."""
        check(self.public == (names is None), "a public replay has no openings, a full one has them")
        rule(e["index"] == self.size, "wrong_index", "wrong index")
        rule(e["time_ms"] >= self.last_time, "time_went_back", "time went back")
        rule(e["id"] not in self.ids, "duplicate_entry_id", "duplicate entry id")
        rule((e["kind"] == "genesis") == (self.size == 0), "genesis", "genesis must be first and only first")
        if e["kind"] != "genesis":
            self.signer(e)
        # Account references: fresh commitments, opened in a full replay.
        seen = []
        for r in refs(e):
            if "commitment" in r:
                rule(r["commitment"] not in self.commitments and r["commitment"] not in seen,
                     "duplicate_commitment", "a commitment appears twice")
                seen.append(r["commitment"])
        self.names = names
        b = e["body"]
        kind = e["kind"]
        if kind == "genesis":
            pk = bytes.fromhex(b["ledger_key"])
            rule(bytes.fromhex(e["key_id"]) == note_key_id(b["origin"], pk), "unknown_signer", "genesis key id")
            self.origin = b["origin"]
            self.keys["ledger"][e["key_id"]] = [pk, False]
        elif kind == "key_event":
            pk = bytes.fromhex(b["public_key"])
            want = note_key_id(self.origin, pk) if b["purpose"] == "ledger" else voucher_key_id(pk)
            rule(bytes.fromhex(b["key_id"]) == want, "invalid_key_event", "key id does not match the key")
            keys = self.keys[b["purpose"]]
            prev = keys.get(b["key_id"])
            if b["action"] == "added":
                rule(prev is None, "invalid_key_event", "key already known")
                keys[b["key_id"]] = [pk, False]
            else:
                rule(prev is not None and prev[0] == pk and not prev[1], "invalid_key_event", "unknown or retired key")
                active = sum(1 for k in keys.values() if not k[1])
                rule(b["purpose"] != "ledger" or active > 1, "invalid_key_event", "last ledger key")
                prev[1] = True
        elif kind == "open_account":
            self.open_account(b)
        elif kind == "account_state":
            self.account_state(b)
        else:
            self.transfer(e, b)
        self.commitments.update(seen)
        self.ids.add(e["id"])
        self.size += 1
        self.last_time = e["time_ms"]

    def resolve(self, slot, ref, fund):
        """The account a reference names. Public replay: an unopened commitment is the pool of
        `fund` (the fund that the other side of the leg belongs to)."""
        committed = "commitment" in ref
        if self.public and committed:
            rule(fund is not None, "invalid_transfer", "a commitment needs a fund or provider on the other side")
            return pool_id(fund)
        account = ref["clear"] if not committed else self.names[slot]
        a = self.accounts.get(account)
        rule(a is None or (a["kind"] == "voucher") == committed, "invalid_account",
             "a voucher is named by a commitment, every other account in the clear")
        return account

    def open_account(self, b):
        """Section 9.5: every kind but a voucher, which its first issue opens (9.7 rule 8.2)."""
        committed = "commitment" in b["account"]
        rule(committed == (b["kind"] == "voucher"), "invalid_account", "voucher iff committed")
        rule(b["kind"] != "voucher", "invalid_account", "a voucher account is opened by its first issue")
        account = self.resolve(0, b["account"], None)
        rule(account not in self.pool_ids, "invalid_account", "a fund's pool id")
        rule(b["kind"] != "fund" or pool_id(account) not in self.accounts, "invalid_account",
             "an account already has this fund's pool id")
        rule(account != NIL, "invalid_account", "nil account")
        rule(account not in self.accounts, "account_exists", "account exists")
        rule(b["kind"] == "external" or b["flags"] & FLAG_NO_NEGATIVE, "invalid_account", "only external may go negative")
        if b["kind"] in ("external", "fund", "bank"):
            rule(b["fund"] == NIL and b["party"] == NIL, "invalid_account", "no fund or party")
        else:
            fund_ok = self.accounts.get(b["fund"], {}).get("kind") == "fund"
            rule(fund_ok and b["party"] != NIL, "invalid_account", "a provider names a fund and a party")
        if b["kind"] == "fund":
            self.pool_ids.add(pool_id(account))
        self.accounts[account] = dict(
            kind=b["kind"], flags=b["flags"], fund=b["fund"], party=b["party"], status="active", balance=0,
        )

    def new_voucher(self, account, fund):
        """Section 9.7 rule 8.2: the voucher an issue leg opens (in a public replay: the pool of
        the fund, on the fund's first issue, section 10.2 rule 2). The path rule checks the rest."""
        rule(account != NIL, "invalid_account", "nil account")
        rule(self.public or account not in self.pool_ids, "invalid_account", "a fund's pool id")
        return dict(kind="voucher", flags=FLAG_NO_NEGATIVE, fund=fund, party=NIL, status="active", balance=0)

    def account_state(self, b):
        if self.public and "commitment" in b["account"]:
            return  # which voucher changed is not public: nothing to check
        account = self.resolve(0, b["account"], None)
        a = self.accounts.get(account)
        rule(a is not None, "unknown_account", "unknown account")
        rule(a["kind"] in ("voucher", "provider"), "invalid_account", "only vouchers and providers change state")
        rule(a["status"] != "closed", "account_closed", "closed")
        rule(b["status"] != "closed" or a["balance"] == 0, "invalid_account", "only empty accounts close")
        a["status"] = b["status"]

    def fund_of(self, ref):
        """The fund a clear reference belongs to: a fund itself, a provider's fund."""
        if "clear" not in ref:
            return None
        a = self.accounts.get(ref["clear"])
        if a is None:
            return None
        if a["kind"] == "fund":
            return ref["clear"]
        if a["kind"] == "provider":
            return a["fund"]
        return None

    def current(self, new, account):
        """An account as changed by the earlier legs of this transfer (a copy)."""
        if account in new:
            return new[account]
        rule(account in self.accounts, "unknown_account", "unknown account")
        return dict(self.accounts[account])

    def mirror(self, orig):
        out = []
        for debit, credit, amount in orig["legs"]:
            v = self.accounts.get(debit)
            back = v["fund"] if v and v["kind"] == "voucher" and v["status"] == "closed" else debit
            out.append((credit, back, amount))
        return out

    def transfer(self, e, b):
        k, nil = b["kind"], NIL
        # An issue credits (and may open) vouchers, which are only ever named by commitments.
        rule(k != "issue" or all("commitment" in leg["credit"] for leg in b["legs"]),
             "invalid_account", "an issue credits a voucher, named by a commitment")
        flows = []
        for i, leg in enumerate(b["legs"]):
            debit = self.resolve(2 * i, leg["debit"], self.fund_of(leg["credit"]))
            credit = self.resolve(2 * i + 1, leg["credit"], self.fund_of(leg["debit"]))
            flows.append((debit, credit, leg["amount"]))
        needs_category = k in ("redeem", "direct_payment", "reverse")
        rule(needs_category == (b["category"] is not None), "invalid_transfer", "category")
        one_leg = k in ("redeem", "direct_payment", "reverse", "deposit_correction")
        rule(not one_leg or len(flows) == 1, "invalid_transfer", "exactly one leg")
        rule((k in ("reverse", "deposit_correction")) == (b["reference"] != nil), "invalid_transfer", "reference")
        att = bytes.fromhex(b["attachment"])
        if k == "payout":
            rule(len(att) <= 64, "invalid_transfer", "payout attachment too long")
        else:
            rule(att == b"", "invalid_transfer", "unexpected attachment")
        if k == "reverse":
            orig = self.reversible.get(b["reference"])
            rule(orig is not None, "unknown_redemption", "no such redemption or direct payment")
            rule(not orig["reversed"], "already_reversed", "reversed before")
            expected = self.mirror(orig)

            def fits(exp, got):
                if exp[0] != got[0] or exp[2] != got[2]:
                    return False
                if exp[1] == got[1]:
                    return True
                # Public replay: the pool stands for a voucher that may be closed by now.
                p = self.accounts.get(exp[1])
                return self.public and p is not None and p["kind"] == "voucher" and p["fund"] == got[1]

            rule(len(expected) == len(flows) and all(fits(x, y) for x, y in zip(expected, flows))
                 and orig["category"] == b["category"], "invalid_transfer", "not a mirror of the original")
        correction = None
        if k == "deposit_correction":
            debit, credit, amount = flows[0]
            deposit = self.deposits.get(b["reference"])
            rule(deposit is not None, "unknown_deposit", "no such deposit")
            brought = sum(a for d, c, a in deposit if d == credit and c == debit)
            rule(brought > 0, "unknown_deposit", "the deposit brought nothing into this fund")
            after = self.corrected.get((b["reference"], debit, credit), 0) + amount
            rule(after <= brought, "correction_too_large", "more than the deposit brought")
            correction = ((b["reference"], debit, credit), after)
        new = {}
        for debit, credit, amount in flows:
            rule(debit != credit, "invalid_transfer", "same account")
            rule(amount > 0, "invalid_transfer", "amounts must be positive")
            d = self.current(new, debit)
            if k == "issue" and credit not in new and credit not in self.accounts:
                c = self.new_voucher(credit, debit)  # an issue opens the voucher it funds
            else:
                c = self.current(new, credit)
            rule(d["status"] != "closed", "account_closed", "closed account")
            rule(c["status"] != "closed", "account_closed", "closed account")
            path = {
                "deposit": d["kind"] == "external" and c["kind"] == "fund",
                "deposit_correction": d["kind"] == "fund" and c["kind"] == "external",
                "issue": d["kind"] == "fund" and c["kind"] == "voucher" and c["fund"] == debit,
                "top_up": d["kind"] == "fund" and c["kind"] == "voucher" and c["fund"] == debit,
                "redeem": d["kind"] == "voucher" and c["kind"] == "provider" and c["fund"] == d["fund"],
                "direct_payment": d["kind"] == "voucher" and c["kind"] == "provider" and c["fund"] == d["fund"],
                "reverse": d["kind"] == "provider"
                and (c["kind"] == "voucher" or (c["kind"] == "fund" and d["fund"] == credit)),
                "expire": d["kind"] == "voucher" and c["kind"] == "fund" and d["fund"] == credit,
                "payout": d["kind"] == "provider" and c["kind"] == "bank",
            }[k]
            rule(path, "invalid_transfer", "accounts do not fit the transfer kind")
            if k == "issue":
                # Several legs of one issue may credit the voucher it opens; a voucher that an
                # earlier entry opened (issued) may not be issued again. A pool takes any number.
                rule(self.public or credit not in self.accounts, "already_issued", "already issued")
            if k in ("redeem", "direct_payment"):
                rule(d["status"] != "blocked", "voucher_blocked", "voucher blocked")
                rule(c["status"] != "blocked", "invalid_transfer", "provider blocked")
            d["balance"] -= amount
            rule(-(2**63) <= d["balance"], "amount_overflow", "overflow")
            rule(not (d["flags"] & FLAG_NO_NEGATIVE) or d["balance"] >= 0, "insufficient_balance", "insufficient balance")
            c["balance"] += amount
            rule(c["balance"] <= I64_MAX, "amount_overflow", "overflow")
            new[debit], new[credit] = d, c
        if k == "expire" and not self.public:
            rule(all(new[debit]["balance"] == 0 for debit, _, _ in flows), "invalid_transfer",
                 "an expiry returns a voucher's whole balance")
        if k == "reverse":
            self.reversible[b["reference"]]["reversed"] = True
        if k in ("redeem", "direct_payment"):
            self.reversible[e["id"]] = {"legs": flows, "category": b["category"], "reversed": False}
        if k == "deposit":
            self.deposits[e["id"]] = flows
        if correction is not None:
            self.corrected[correction[0]] = correction[1]
        self.accounts.update(new)

    def balances(self):
        return sorted(
            ({"account": k, "kind": a["kind"], "balance": a["balance"]} for k, a in self.accounts.items()),
            key=lambda x: x["account"],
        )


# ---------------------------------------------------------------------------------------------
# Rules the vectors do not exercise by themselves: entries changed in memory, replayed on the
# state just before an index (the replay rules do not look at signatures).


def replay_until(decoded, names, upto, public):
    led = Ledger(public)
    for d, n in zip(decoded[:upto], names[:upto]):
        led.apply(d, None if public else n)
    return led


def expect_code(led, e, names, code):
    trial = copy.deepcopy(led)
    try:
        trial.apply(e, names)
    except Rejected as err:
        check(err.code == code, "entry %d: refused with %s, expected %s" % (e["index"], err.code, code))
        return 1
    check(code is None, "entry %d: accepted, expected %s" % (e["index"], code))
    return 1


def rule_checks(decoded, names, idx):
    """Each case: an entry for index i built from scratch or from a real one, and the code the
    full (and where it differs, the public) replay must answer. Returns how many were checked."""
    n = 0

    def entry(i, body, base=None, kind="transfer"):
        e = copy.deepcopy(base) if base else {"kind": kind, "key_id": decoded[1]["key_id"], "signature": "00" * 64}
        e.update(index=i, time_ms=decoded[i - 1]["time_ms"], id=str(uuid.UUID(int=0xFEED0000 + n * 1000 + i)))
        e["body"] = body
        return e

    def fresh(tag):
        return {"commitment": hashlib.sha256(b"fresh commitment " + tag).hexdigest()}

    def correction(ref, cents):
        return {"kind": "deposit_correction", "category": None, "reference": ref, "attachment": "",
                "legs": [{"debit": {"clear": idx["fund"]}, "credit": {"clear": idx["external"]}, "amount": cents}]}

    deposit_id = decoded[idx["deposit"]]["id"]
    correction_id = decoded[idx["deposit"] + 1]["id"]
    i = idx["issue"]
    full = replay_until(decoded, names, i, False)
    n += expect_code(full, entry(i, correction(deposit_id, 95001)), [idx["fund"], idx["external"]], "correction_too_large")
    n += expect_code(full, entry(i, correction(correction_id, 1)), [idx["fund"], idx["external"]], "unknown_deposit")
    n += expect_code(full, entry(i, correction(deposit_id, 95000)), [idx["fund"], idx["external"]], None)
    # Both replays, just before the issue that opens the voucher and just after it.
    i = idx["issue"]
    before = {False: replay_until(decoded, names, i, False), True: replay_until(decoded, names, i, True)}
    after = {False: replay_until(decoded, names, i + 1, False), True: replay_until(decoded, names, i + 1, True)}

    def both(states, body, full_names, full_code, public_code, kind="transfer"):
        nonlocal n
        at = states[False].size
        n += expect_code(states[False], entry(at, body, kind=kind), full_names, full_code)
        n += expect_code(states[True], entry(at, body, kind=kind), None, public_code)

    # open_account does not open a voucher, in either replay: its first issue does. Neither the
    # voucher about to be issued, nor one already issued, nor a new one, nor one in the clear.
    other = str(uuid.UUID(int=0x88888888888848888888888888888888))

    def open_voucher(ref):
        return {"account": ref, "kind": "voucher", "flags": FLAG_NO_NEGATIVE, "fund": idx["fund"], "party": NIL}

    for states in (before, after):
        for account in (idx["voucher"], other):
            body = open_voucher(fresh(b"open " + account.encode()))
            both(states, body, [account], "invalid_account", "invalid_account", kind="open_account")
    both(before, open_voucher({"clear": other}), [other], "invalid_account", "invalid_account", kind="open_account")

    # Pool ids are reserved in both replays: no account takes an existing fund's, and no fund
    # opens whose pool id an account already has.
    def open_clear(account, kind):
        return {"account": {"clear": account}, "kind": kind, "flags": FLAG_NO_NEGATIVE, "fund": NIL, "party": NIL}

    pool = pool_id(idx["fund"])
    both(before, open_clear(pool, "bank"), [pool], "invalid_account", "invalid_account", kind="open_account")
    fund2 = str(uuid.UUID(int=0x99999999999949998999999999999999))
    for public in (False, True):
        led = copy.deepcopy(before[public])
        led.apply(entry(i, open_clear(pool_id(fund2), "bank"), kind="open_account"), None if public else [pool_id(fund2)])
        n += expect_code(led, entry(i + 1, open_clear(fund2, "fund"), kind="open_account"),
                         None if public else [fund2], "invalid_account")
        n += expect_code(led, entry(i + 1, open_clear(other, "fund"), kind="open_account"),
                         None if public else [other], None)

    def transfer_to(kind, credit_ref, debit=None, amount=1):
        return {"kind": kind, "category": None, "reference": NIL, "attachment": "",
                "legs": [{"debit": {"clear": debit or idx["fund"]}, "credit": credit_ref, "amount": amount}]}

    # A top-up of a voucher that no issue has opened: an unknown account (in the public replay
    # the fund has no pool yet); once the issue opened it, the top-up is fine.
    top_up = transfer_to("top_up", fresh(b"top-up"))
    both(before, top_up, [idx["fund"], idx["voucher"]], "unknown_account", "unknown_account")
    both(after, top_up, [idx["fund"], idx["voucher"]], None, None)
    # An issue that would open a voucher under a fund's pool id, or the nil id: refused where the
    # openings are known; the public replay sees (and creates) the fund's pool.
    both(before, transfer_to("issue", fresh(b"pool")), [idx["fund"], pool_id(idx["fund"])], "invalid_account", None)
    both(before, transfer_to("issue", fresh(b"nil")), [idx["fund"], NIL], "invalid_account", None)
    # A new voucher of its own, opened by an issue: fine in both replays; two legs to it too.
    pooled = transfer_to("issue", fresh(b"new 1"))
    pooled["legs"].append(dict(pooled["legs"][0], credit=fresh(b"new 2")))
    both(before, pooled, [idx["fund"], other, idx["fund"], other], None, None)
    # An issue to the voucher that an earlier entry opened (issued): refused in the full replay;
    # the public replay's pool takes any number of issues.
    issue = transfer_to("issue", fresh(b"issue"))
    both(after, issue, [idx["fund"], idx["voucher"]], "already_issued", None)
    # An issue to an account named in the clear (new, or a fund's pool id): refused in both
    # replays, so that no voucher is ever named in the clear.
    both(before, transfer_to("issue", {"clear": other}), [idx["fund"], other], "invalid_account", "invalid_account")
    both(before, transfer_to("issue", {"clear": pool_id(idx["fund"])}),
         [idx["fund"], pool_id(idx["fund"])], "invalid_account", "invalid_account")
    # An issue from an account that is not a fund: the voucher it would open fails the path rule.
    both(after, transfer_to("issue", fresh(b"from provider"), debit=idx["provider"]),
         [idx["provider"], other], "invalid_transfer", "invalid_transfer")
    # The redemption's commitment used again; the voucher named in the clear; an attachment.
    i = idx["redeem"] + 1
    full = replay_until(decoded, names, i, False)
    public = replay_until(decoded, names, i, True)
    spend = decoded[idx["redeem"]]["body"]
    again = dict(spend, kind="direct_payment", legs=[dict(spend["legs"][0], amount=1)])
    n += expect_code(full, entry(i, again), [idx["voucher"], idx["provider"]], "duplicate_commitment")
    n += expect_code(public, entry(i, again), None, "duplicate_commitment")
    in_clear = dict(again, legs=[dict(again["legs"][0], debit={"clear": idx["voucher"]})])
    n += expect_code(full, entry(i, in_clear), [idx["voucher"], idx["provider"]], "invalid_account")
    attached = dict(again, kind="redeem", attachment="01", legs=[dict(again["legs"][0], debit=fresh(b"att"))])
    n += expect_code(full, entry(i, attached), [idx["voucher"], idx["provider"]], "invalid_transfer")
    n += expect_code(full, entry(i, dict(attached, attachment="")), [idx["voucher"], idx["provider"]], None)
    # A public replay cannot tell a voucher of another fund from the provider's: the provider
    # decides the pool; an overdraft of the pool is still refused.
    big = dict(attached, attachment="", legs=[dict(attached["legs"][0], amount=10**6)])
    n += expect_code(public, entry(i, big), None, "insufficient_balance")
    return n


# ---------------------------------------------------------------------------------------------


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "ledger-v2.json")
    with open(path, encoding="utf-8") as f:
        v = json.load(f)

    origin = v["origin"]
    # Keys: the seeds give the public keys; the key ids follow from the keys.
    lk, vk = v["ledger_key"], v["voucher_key"]
    for k in (lk, vk):
        check(hashlib.sha256(k["seed_text"].encode()).hexdigest() == k["seed"], "seed derivation")
        pub = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(k["seed"])).public_key().public_bytes_raw()
        check(pub.hex() == k["public_key"], "public key from seed")
    ledger_pk, voucher_pk = bytes.fromhex(lk["public_key"]), bytes.fromhex(vk["public_key"])
    check(note_key_id(origin, ledger_pk).hex() == lk["key_id"], "ledger key id")
    check(voucher_key_id(voucher_pk).hex() == vk["key_id"], "voucher key id")
    vkey = "%s+%s+%s" % (origin, lk["key_id"], base64.b64encode(b"\x01" + ledger_pk).decode())
    check(vkey == lk["vkey"], "vkey string")

    full = Ledger(public=False)
    public = Ledger(public=True)
    leaves, decoded, names_all = [], [], []
    flips = opening_flips = commitments = 0
    for i, je in enumerate(v["entries"]):
        raw = bytes.fromhex(je["hex"])
        try:
            d = decode_entry(raw)
        except DecodeError as err:
            raise Mismatch("entry %d does not decode: %s" % (i, err))
        expected = {k: je[k] for k in ("index", "time_ms", "id", "kind", "body", "key_id", "signature")}
        check(d == expected, "entry %d decodes to %r, JSON says %r" % (i, d, expected))
        check(encode_entry(d) == raw, "entry %d does not re-encode to the same bytes" % i)
        check(len(raw) == HEADER_LEN + struct.unpack(">H", raw[34:36])[0] + TRAILER_LEN, "length")
        v1 = bytearray(raw)
        v1[0] = 1
        try:
            decode_entry(bytes(v1))
            raise Mismatch("entry %d: a version 1 entry still decodes" % i)
        except DecodeError:
            pass
        try:
            signer = full.signer(d)
        except Rejected as err:
            raise Mismatch("entry %d: %s" % (i, err))
        msg = entry_signing_message(d)
        check(ed25519_ok(signer, bytes.fromhex(d["signature"]), msg), "entry %d signature" % i)
        # Every single-bit flip must be refused by the decoder or break the signature.
        for pos in range(len(raw)):
            for bit in (0x01, 0x80):
                bad = bytearray(raw)
                bad[pos] ^= bit
                try:
                    dd = decode_entry(bytes(bad))
                except DecodeError:
                    flips += 1
                    continue
                check(
                    not ed25519_ok(signer, bytes.fromhex(dd["signature"]), entry_signing_message(dd)),
                    "entry %d: flipping byte %d still verifies" % (i, pos),
                )
                flips += 1
        # The openings: one per commitment, in slot order, each hashing to its commitment.
        openings = bytes.fromhex(je["openings"])
        try:
            names = open_entry(d, openings)
        except Mismatch as err:
            raise Mismatch("entry %d: %s" % (i, err))
        commitments += len(openings) // OPENING_LEN
        for pos in range(len(openings)):
            for bit in range(8):
                bad = bytearray(openings)
                bad[pos] ^= 1 << bit
                try:
                    open_entry(d, bytes(bad))
                except Mismatch as err:
                    check(str(err).startswith("bad opening"), "entry %d: %s" % (i, err))
                    opening_flips += 1
                    continue
                raise Mismatch("entry %d: flipping bit %d of opening byte %d still opens" % (i, bit, pos))
        for ledger, n in ((full, names), (public, None)):
            try:
                ledger.apply(d, n)
            except Rejected as err:
                which = "public" if ledger.public else "full"
                raise Mismatch("entry %d breaks a ledger rule in the %s replay: %s" % (i, which, err))
        leaf = leaf_hash(raw)
        check(leaf.hex() == je["leaf_hash"], "entry %d leaf hash" % i)
        leaves.append(leaf)
        decoded.append(d)
        names_all.append(names)
    check(commitments == v["commitments"] == len(public.commitments) == len(full.commitments), "commitment count")

    # Balances of both replays.
    for ledger, want, which in ((full, v["balances"]["full"], "full"), (public, v["balances"]["public"], "public")):
        check(sum(a["balance"] for a in ledger.accounts.values()) == 0, "%s balances do not sum to zero" % which)
        check(ledger.balances() == want, "%s balances differ from the JSON: %r" % (which, ledger.balances()))
    funds = sorted(k for k, a in full.accounts.items() if a["kind"] == "fund")
    check(v["pools"] == [{"fund": f, "account": pool_id(f)} for f in funds], "pool ids")
    # The public replay differs from the full one only in the vouchers: clear accounts are exact,
    # and each fund's pool holds the sum of its vouchers.
    for k, a in full.accounts.items():
        if a["kind"] != "voucher":
            check(public.accounts[k] == a, "public replay of account %s" % k)
    for f in funds:
        total = sum(a["balance"] for a in full.accounts.values() if a["kind"] == "voucher" and a["fund"] == f)
        check(public.accounts[pool_id(f)]["balance"] == total, "pool of fund %s" % f)

    # Tree and checkpoint.
    size = len(leaves)
    root = mth(leaves)
    check(size == v["tree_size"], "tree size")
    check(root.hex() == v["root"], "root")
    check(base64.b64encode(root).decode() == v["root_base64"], "root base64")
    text = open_note(v["checkpoint_note"], origin, ledger_pk)
    cp_origin, cp_size, cp_root = parse_checkpoint(text)
    check((cp_origin, cp_size, cp_root) == (origin, size, root), "checkpoint contents")

    # tlog-proof.
    p = v["tlog_proof"]
    extra, index, hashes, cp_note = parse_tlog_proof(p["text"])
    check(extra is None, "no extra data expected")
    check(index == p["index"] and [h.hex() for h in hashes] == p["hashes"], "proof contents")
    check(cp_note == v["checkpoint_note"], "proof carries the checkpoint verbatim")
    p_origin, p_size, p_root = parse_checkpoint(open_note(cp_note, origin, ledger_pk))
    check(p_origin == origin, "proof origin")
    check(verify_inclusion(index, p_size, leaves[index], hashes, p_root), "inclusion proof")
    check(not verify_inclusion(index, p_size, leaves[index - 1], hashes, p_root), "proof binds the leaf")

    # The redemption and the holder's copy of its KP1 token, which is not on the ledger.
    tj = v["token"]
    check(index == tj["redemption_index"], "the proof is for the redemption")
    redeem = decoded[tj["redemption_index"]]
    check(redeem["kind"] == "transfer" and redeem["body"]["kind"] == "redeem", "token entry is a redemption")
    check(redeem["body"]["attachment"] == "", "a redemption carries no attachment")
    check("commitment" in redeem["body"]["legs"][0]["debit"], "the redeemed voucher is committed")
    check(names_all[tj["redemption_index"]][0] == tj["voucher_account"], "the redemption opens to the voucher account")
    holder_token = parse_token_text(tj["text"])
    check(holder_token.hex() == tj["hex"], "token text and hex")
    t = decode_token(holder_token)
    check(
        (t["voucher"], t["key_id"].hex(), t["expiry"], t["categories"], t["generation"])
        == (tj["voucher"], tj["key_id"], tj["expiry"], tj["categories"], tj["generation"]),
        "token fields",
    )
    check(t["voucher"] != tj["voucher_account"], "the token's voucher id is not the ledger account")
    check(hashlib.sha256(holder_token).hexdigest() == tj["digest"], "SHA-256 of the token")
    check(t["key_id"].hex() in full.keys["voucher"], "the token's key is a voucher key of the ledger")
    check(full.keys["voucher"][t["key_id"].hex()][0] == voucher_pk, "voucher key")
    check(ed25519_ok(voucher_pk, t["signature"], t["message"]), "token signature")
    # Nothing of the token, nor the voucher's account, is on the public ledger.
    secrets = [
        ("the token", holder_token),
        ("the token's signed fields", holder_token[:TOKEN_SIGNED_BYTES]),
        ("the token's SHA-256", bytes.fromhex(tj["digest"])),
        ("the token's voucher id", ub(tj["voucher"])),
        ("the voucher's ledger account", ub(tj["voucher_account"])),
    ] + [("the token signature", t["signature"][i : i + 16]) for i in range(len(t["signature"]) - 15)]
    for je in v["entries"]:
        raw = bytes.fromhex(je["hex"])
        for what, s in secrets:
            check(s not in raw, "entry %d carries %s" % (je["index"], what))

    # Rejection codes of the version 2 rules.
    idx = {
        "deposit": next(d["index"] for d in decoded if d["kind"] == "transfer" and d["body"]["kind"] == "deposit"),
        "issue": next(d["index"] for d in decoded if d["kind"] == "transfer" and d["body"]["kind"] == "issue"),
        "redeem": tj["redemption_index"],
        "fund": funds[0],
        "external": next(k for k, a in full.accounts.items() if a["kind"] == "external"),
        "provider": next(k for k, a in full.accounts.items() if a["kind"] == "provider"),
        "voucher": tj["voucher_account"],
    }
    check(decoded[idx["deposit"] + 1]["body"]["kind"] == "deposit_correction", "correction after the deposit")
    issue_legs = decoded[idx["issue"]]["body"]["legs"]
    check(len(issue_legs) == 2 and names_all[idx["issue"]][1] == names_all[idx["issue"]][3], "pooled issue")
    # No open_account opens the voucher: its first appearance is the issue that opens it.
    check(all(not (d["kind"] == "open_account" and d["body"]["kind"] == "voucher") for d in decoded),
          "an open_account of a voucher")
    first = next(i for i, d in enumerate(decoded) if any("commitment" in r for r in refs(d)))
    check(first == idx["issue"] and names_all[first][1] == idx["voucher"], "the voucher's first appearance is its issue")
    cases = rule_checks(decoded, names_all, idx)
    # Missing, truncated and extra openings are refused (the full audit's "bad opening").
    for i, je in enumerate(v["entries"]):
        o = bytes.fromhex(je["openings"])
        bad = [o + o[:OPENING_LEN] if o else bytes(OPENING_LEN)]
        if o:
            bad += [b"", o[:-OPENING_LEN], o[:-1]]
        for b in bad:
            try:
                open_entry(decoded[i], b)
            except Mismatch as err:
                check(str(err).startswith("bad opening"), "entry %d: %s" % (i, err))
                cases += 1
                continue
            raise Mismatch("entry %d: wrong openings %s are accepted" % (i, b.hex()))

    print(
        "ok: %d entries decoded, re-encoded and signature-checked (%d bit flips refused); "
        "%d commitments opened (%d opening bit flips refused); full replay and public replay "
        "(vouchers pooled per fund) match the JSON balances, sums 0; %d rule and opening cases refused or "
        "accepted as documented; root %s; checkpoint note verified (%s); tlog-proof for entry %d "
        "verified (%d hashes); the holder's KP1 token verifies (key %s) and nothing of it is on "
        "the ledger"
        % (size, flips, commitments, opening_flips, cases, v["root_base64"], lk["key_id"], index,
           len(hashes), vk["key_id"])
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Mismatch, DecodeError, Rejected, KeyError, ValueError) as err:
        print("MISMATCH: %s" % err, file=sys.stderr)
        sys.exit(1)
