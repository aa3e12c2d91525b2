#!/usr/bin/env python3
"""Independent check of the kindpakket ledger test vectors.

Implements docs/ledger-format.md from scratch (Python standard library plus the
`cryptography` package for Ed25519) and checks tests/vectors/ledger-v1.json:

  * every entry decodes strictly, matches the decoded view in the JSON and re-encodes to the
    same bytes; single-bit flips are refused or break the signature;
  * every entry signature verifies with the ledger key active for it, key ids match the keys;
  * the ledger rules hold when the entries are replayed, and the balances match;
  * leaf hashes and the RFC 6962 root match;
  * the checkpoint note is well formed and its signature verifies;
  * the tlog-proof parses and its inclusion proof leads to the checkpoint root;
  * the redemption carries a 59-byte token record (the token's first 27 bytes and SHA-256 of
    the whole token), never the token or its signature;
  * the full KP1 token in the JSON (the holder's off-ledger copy) decodes, matches its text
    form and the record (its SHA-256 equals the record's digest, its first 27 bytes equal the
    record's first 27 bytes), and its signature verifies with the voucher key the ledger knows.

Usage: python3 tests/vectors/verify_vectors.py [path/to/ledger-v1.json]
Exits 0 and prints a summary when everything matches, 1 otherwise.
"""

import base64
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

VERSION = 1
ENTRY_CONTEXT = b"kindpakket/ledger-entry/v1\x00"
TOKEN_CONTEXT = b"KINDPAKKET-VOUCHER-V1\x00"
HEADER_LEN = 36
TRAILER_LEN = 4 + 64
FLAG_NO_NEGATIVE = 0x0001
KNOWN_FLAGS = FLAG_NO_NEGATIVE
I64_MAX = 2**63 - 1
NOTE_ALG_ED25519 = 0x01
TOKEN_FORMAT = 0x01
TOKEN_BYTES = 91
TOKEN_SIGNED_BYTES = 27
RECORD_BYTES = TOKEN_SIGNED_BYTES + 32
TOKEN_PREFIX = "KP1:"
TOKEN_CHARS = 150
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
EM_DASH_PREFIX = "\u2014 "

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
        account = r.uuid()
        akind = enum(ACCOUNT_KINDS, r.u8(), "account kind")
        flags = r.u16()
        if flags & ~KNOWN_FLAGS:
            raise DecodeError("unknown account flags")
        return {"account": account, "kind": akind, "flags": flags, "fund": r.uuid(), "party": r.uuid()}
    if kind == "account_state":
        return {
            "account": r.uuid(),
            "status": enum(ACCOUNT_STATUSES, r.u8(), "account status"),
            "generation": r.u8(),
        }
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
            debit, credit, amount = r.uuid(), r.uuid(), r.u64()
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
        raise DecodeError("unknown version")
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
            ub(body["account"])
            + bytes([inverse(ACCOUNT_KINDS)[body["kind"]]])
            + struct.pack(">H", body["flags"])
            + ub(body["fund"])
            + ub(body["party"])
        )
    if kind == "account_state":
        return ub(body["account"]) + bytes([inverse(ACCOUNT_STATUSES)[body["status"]], body["generation"]])
    if kind == "transfer":
        cat = 0 if body["category"] is None else inverse(CATEGORIES)[body["category"]]
        out = bytes([inverse(TRANSFER_KINDS)[body["kind"]], cat]) + ub(body["reference"])
        out += bytes([len(body["legs"])])
        for leg in body["legs"]:
            out += ub(leg["debit"]) + ub(leg["credit"]) + struct.pack(">Q", leg["amount"])
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
    """The first 27 bytes of a token (and of a token record)."""
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


def decode_record(b):
    """The 59-byte token record a redemption carries: signed fields, then SHA-256(token)."""
    if len(b) != RECORD_BYTES:
        raise Rejected("attachment is not a token record")
    try:
        r = decode_signed_fields(b[:TOKEN_SIGNED_BYTES])
    except Mismatch as err:
        raise Rejected("attachment is not a token record: %s" % err)
    r["signed"] = b[:TOKEN_SIGNED_BYTES]
    r["digest"] = b[TOKEN_SIGNED_BYTES:]
    return r


def record_matches(record_bytes, token_bytes):
    """True when the token is the one the record was made from."""
    return (
        len(record_bytes) == RECORD_BYTES
        and len(token_bytes) == TOKEN_BYTES
        and record_bytes[:TOKEN_SIGNED_BYTES] == token_bytes[:TOKEN_SIGNED_BYTES]
        and record_bytes[TOKEN_SIGNED_BYTES:] == hashlib.sha256(token_bytes).digest()
    )


def parse_token_text(text):
    check(text.startswith(TOKEN_PREFIX) and len(text) == TOKEN_CHARS, "token text shape")
    body = text[len(TOKEN_PREFIX) :]
    check(all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in body), "token alphabet")
    raw = base64.b32decode(body + "=" * (-len(body) % 8))
    check(len(raw) == TOKEN_BYTES, "token length")
    check(base64.b32encode(raw).decode("ascii").rstrip("=") == body, "token padding bits")
    return raw


# ---------------------------------------------------------------------------------------------
# Ledger rules (replay).


class Rejected(Exception):
    pass


def rule(cond, why):
    if not cond:
        raise Rejected(why)


class Ledger:
    def __init__(self):
        self.origin = None
        self.size = 0
        self.last_time = 0
        self.ids = set()
        self.keys = {"ledger": {}, "voucher": {}}  # key id hex -> [public key bytes, retired?]
        self.accounts = {}
        self.reversible = {}  # entry id -> {"legs", "category", "reversed"}

    def signer(self, e):
        """The public key that must have signed entry e (before applying it)."""
        if e["kind"] == "genesis":
            return bytes.fromhex(e["body"]["ledger_key"])
        k = self.keys["ledger"].get(e["key_id"])
        rule(k is not None and not k[1], "not signed by an active ledger key")
        return k[0]

    def apply(self, e, attachment_key_check):
        rule(e["index"] == self.size, "wrong index")
        rule(e["time_ms"] >= self.last_time, "time went back")
        rule(e["id"] not in self.ids, "duplicate entry id")
        rule((e["kind"] == "genesis") == (self.size == 0), "genesis must be first and only first")
        if e["kind"] != "genesis":
            self.signer(e)
        b = e["body"]
        kind = e["kind"]
        if kind == "genesis":
            pk = bytes.fromhex(b["ledger_key"])
            rule(bytes.fromhex(e["key_id"]) == note_key_id(b["origin"], pk), "genesis key id")
            self.origin = b["origin"]
            self.keys["ledger"][e["key_id"]] = [pk, False]
        elif kind == "key_event":
            pk = bytes.fromhex(b["public_key"])
            want = note_key_id(self.origin, pk) if b["purpose"] == "ledger" else voucher_key_id(pk)
            rule(bytes.fromhex(b["key_id"]) == want, "key id does not match the key")
            keys = self.keys[b["purpose"]]
            prev = keys.get(b["key_id"])
            if b["action"] == "added":
                rule(prev is None, "key already known")
                keys[b["key_id"]] = [pk, False]
            else:
                rule(prev is not None and prev[0] == pk and not prev[1], "unknown or retired key")
                active = sum(1 for k in keys.values() if not k[1])
                rule(b["purpose"] != "ledger" or active > 1, "last ledger key")
                prev[1] = True
        elif kind == "open_account":
            nil = str(uuid.UUID(int=0))
            rule(b["account"] != nil and b["account"] not in self.accounts, "account id")
            rule(b["kind"] == "external" or b["flags"] & FLAG_NO_NEGATIVE, "only external may go negative")
            fund_ok = self.accounts.get(b["fund"], {}).get("kind") == "fund"
            if b["kind"] in ("external", "fund", "bank"):
                rule(b["fund"] == nil and b["party"] == nil, "no fund or party")
            elif b["kind"] == "voucher":
                rule(fund_ok and b["party"] == nil, "a voucher belongs to a fund")
            else:
                rule(fund_ok and b["party"] != nil, "a provider names a fund and a party")
            self.accounts[b["account"]] = dict(
                kind=b["kind"], flags=b["flags"], fund=b["fund"], status="active", generation=0,
                balance=0, issued=False,
            )
        elif kind == "account_state":
            a = self.accounts.get(b["account"])
            rule(a is not None and a["kind"] in ("voucher", "provider"), "state change")
            rule(a["status"] != "closed", "closed")
            rule(b["generation"] in (a["generation"], a["generation"] + 1), "generation")
            rule(b["status"] != "closed" or a["balance"] == 0, "only empty accounts close")
            a["status"], a["generation"] = b["status"], b["generation"]
        else:
            self.transfer(e, b, attachment_key_check)
        self.ids.add(e["id"])
        self.size += 1
        self.last_time = e["time_ms"]

    def current(self, new, account):
        """An account as changed by the earlier legs of this transfer (a copy)."""
        if account in new:
            return new[account]
        rule(account in self.accounts, "unknown account")
        return dict(self.accounts[account])

    def transfer(self, e, b, attachment_key_check):
        k, legs, nil = b["kind"], b["legs"], str(uuid.UUID(int=0))
        one_leg = k in ("redeem", "direct_payment", "reverse")
        rule(one_leg == (b["category"] is not None), "category")
        rule(not one_leg or len(legs) == 1, "exactly one leg")
        rule((k == "reverse") == (b["reference"] != nil), "reference")
        att = bytes.fromhex(b["attachment"])
        if k == "payout":
            rule(len(att) <= 64, "payout attachment too long")
        elif k != "redeem":
            rule(att == b"", "unexpected attachment")
        if k == "reverse":
            orig = self.reversible.get(b["reference"])
            rule(orig is not None and not orig["reversed"], "unknown or reversed transfer")
            mirror = [{"debit": l["credit"], "credit": l["debit"], "amount": l["amount"]} for l in orig["legs"]]
            rule(mirror == legs and orig["category"] == b["category"], "not a mirror")
        new = {}
        for leg in legs:
            rule(leg["debit"] != leg["credit"], "same account")
            d, c = self.current(new, leg["debit"]), self.current(new, leg["credit"])
            rule(d["status"] != "closed" and c["status"] != "closed", "closed account")
            path = {
                "deposit": d["kind"] == "external" and c["kind"] == "fund",
                "issue": d["kind"] == "fund" and c["kind"] == "voucher" and c["fund"] == leg["debit"],
                "top_up": d["kind"] == "fund" and c["kind"] == "voucher" and c["fund"] == leg["debit"],
                "redeem": d["kind"] == "voucher" and c["kind"] == "provider" and c["fund"] == d["fund"],
                "direct_payment": d["kind"] == "voucher" and c["kind"] == "provider" and c["fund"] == d["fund"],
                "reverse": d["kind"] == "provider" and c["kind"] == "voucher",
                "expire": d["kind"] == "voucher" and c["kind"] == "fund" and d["fund"] == leg["credit"],
                "payout": d["kind"] == "provider" and c["kind"] == "bank",
            }[k]
            rule(path, "accounts do not fit the transfer kind")
            if k == "issue":
                rule(not c["issued"], "already issued")
                c["issued"] = True
            if k == "top_up":
                rule(c["issued"], "top-up before issue")
            if k in ("redeem", "direct_payment"):
                rule(d["status"] != "blocked" and c["status"] != "blocked", "blocked")
            if k == "redeem":
                t = decode_record(att)
                rule(t["voucher"] == leg["debit"], "token for another voucher")
                rule(t["key_id"].hex() in self.keys["voucher"], "unknown voucher key")
                rule(t["generation"] == d["generation"], "token generation")
                rule(e["time_ms"] // 1000 < t["expiry"], "token expired")
                rule(t["categories"] & (1 << (CATEGORIES_CODE[b["category"]] - 1)), "category not allowed")
                attachment_key_check(e, att, self.keys["voucher"][t["key_id"].hex()][0])
            d["balance"] -= leg["amount"]
            rule(not (d["flags"] & FLAG_NO_NEGATIVE) or d["balance"] >= 0, "insufficient balance")
            c["balance"] += leg["amount"]
            new[leg["debit"]], new[leg["credit"]] = d, c
        if k == "reverse":
            self.reversible[b["reference"]]["reversed"] = True
        if k in ("redeem", "direct_payment"):
            self.reversible[e["id"]] = {"legs": legs, "category": b["category"], "reversed": False}
        self.accounts.update(new)


CATEGORIES_CODE = inverse(CATEGORIES)


# ---------------------------------------------------------------------------------------------


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "ledger-v1.json")
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

    ledger = Ledger()
    leaves = []
    tokens = []
    tj = v["token"]
    # The holder's copy of the redeemed token: off the ledger, only in the JSON.
    holder_token = parse_token_text(tj["text"])
    check(holder_token.hex() == tj["hex"], "token text and hex")

    def token_check(e, record, public_key):
        """Called during replay for each redemption, with its record and the voucher key the
        ledger knows under the record's key id: links the holder's token to the record and
        verifies the token's signature."""
        check(e["index"] == tj["entry_index"], "entry %d: a redemption without a holder's token" % e["index"])
        check(record_matches(record, holder_token), "the holder's token does not match the record")
        t = decode_token(holder_token)
        check(ed25519_ok(public_key, t["signature"], t["message"]), "voucher token signature")
        tokens.append(t)

    flips = 0
    for i, je in enumerate(v["entries"]):
        raw = bytes.fromhex(je["hex"])
        try:
            d = decode_entry(raw)
        except DecodeError as err:
            raise Mismatch("entry %d does not decode: %s" % (i, err))
        expected = {k: je[k] for k in ("index", "time_ms", "id", "kind", "body", "key_id", "signature")}
        check(d == expected, "entry %d decodes to %r, JSON says %r" % (i, d, expected))
        check(encode_entry(d) == raw, "entry %d does not re-encode to the same bytes" % i)
        check(raw[:HEADER_LEN] == encode_content(d)[:HEADER_LEN], "header")
        check(len(raw) == HEADER_LEN + struct.unpack(">H", raw[34:36])[0] + TRAILER_LEN, "length")
        try:
            signer = ledger.signer(d)
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
        try:
            ledger.apply(d, token_check)
        except Rejected as err:
            raise Mismatch("entry %d breaks a ledger rule: %s" % (i, err))
        leaf = leaf_hash(raw)
        check(leaf.hex() == je["leaf_hash"], "entry %d leaf hash" % i)
        leaves.append(leaf)

    # Balances.
    total = sum(a["balance"] for a in ledger.accounts.values())
    check(total == 0, "balances do not sum to zero")
    got = sorted(
        ({"account": k, "kind": a["kind"], "balance": a["balance"]} for k, a in ledger.accounts.items()),
        key=lambda x: x["account"],
    )
    check(got == v["balances"], "balances differ from the JSON")

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

    # The redemption's token record, and the holder's copy of the KP1 token.
    redeem = decode_entry(bytes.fromhex(v["entries"][tj["entry_index"]]["hex"]))
    check(redeem["kind"] == "transfer" and redeem["body"]["kind"] == "redeem", "token entry is a redemption")
    att = bytes.fromhex(redeem["body"]["attachment"])
    check(len(att) == RECORD_BYTES, "the attachment is a 59-byte token record")
    check(att.hex() == tj["record"], "token record bytes")
    rec = decode_record(att)
    check(rec["digest"].hex() == tj["digest"], "record digest")
    check(hashlib.sha256(holder_token).hexdigest() == tj["digest"], "SHA-256 of the token is the digest")
    check(holder_token[:TOKEN_SIGNED_BYTES] == att[:TOKEN_SIGNED_BYTES], "record starts with the token's 27 bytes")
    check(record_matches(att, holder_token), "the record matches the token")
    t = decode_token(holder_token)
    for d in (t, rec):
        check(
            (d["voucher"], d["expiry"], d["categories"], d["generation"])
            == (tj["voucher"], tj["expiry"], tj["categories"], tj["generation"]),
            "token fields",
        )
        check(d["key_id"] == voucher_key_id(voucher_pk), "token key id")
    check(ed25519_ok(voucher_pk, t["signature"], t["message"]), "token signature")
    check(len(tokens) == 1, "one redemption token checked during replay")
    # The public ledger never carries the token or its signature (not even a 16-byte piece).
    for je in v["entries"]:
        raw = bytes.fromhex(je["hex"])
        check(holder_token not in raw, "entry %d carries the full token" % je["index"])
        for i in range(len(t["signature"]) - 15):
            check(t["signature"][i : i + 16] not in raw, "entry %d carries the token signature" % je["index"])
    # A token that differs in one signature bit, or a different token, does not match the record.
    for pos in range(TOKEN_BYTES):
        bad = bytearray(holder_token)
        bad[pos] ^= 0x01
        check(not record_matches(att, bytes(bad)), "a changed token (byte %d) matches the record" % pos)

    print(
        "ok: %d entries decoded, re-encoded and signature-checked (%d bit flips refused); "
        "ledger rules replayed, balances sum to 0; root %s; checkpoint note verified (%s); "
        "tlog-proof for entry %d verified (%d hashes); token record (%d bytes) matches the holder's "
        "KP1 token, whose signature verifies (key %s); no entry carries the token signature"
        % (size, flips, v["root_base64"], lk["key_id"], index, len(hashes), len(att), vk["key_id"])
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Mismatch, DecodeError, KeyError, ValueError) as err:
        print("MISMATCH: %s" % err, file=sys.stderr)
        sys.exit(1)
