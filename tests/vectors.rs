//! Golden test vectors for the ledger format described in `docs/ledger-format.md`.
//!
//! A small ledger is built deterministically (fixed keys, ids and times; Ed25519 signatures are
//! deterministic), and every encoded entry, leaf hash, the root, the signed checkpoint and a
//! tlog-proof are compared with the values written down below and in
//! `tests/vectors/ledger-v1.json`. The JSON file is what `tests/vectors/verify_vectors.py` checks
//! independently of this code.
//!
//! The redemption's attachment on the (public) ledger is the 59-byte token record (the token's
//! signed fields and its SHA-256), never the 91-byte token itself: the JSON file also carries
//! the full token as the holder's off-ledger copy, so that the record can be checked against it.
//!
//! After an intentional format change, regenerate the JSON file with
//! `KINDPAKKET_UPDATE_VECTORS=1 cargo test --test vectors`, then update the constants below and
//! the document.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use ed25519_dalek::SigningKey;
use kindpakket::core::accounts::LedgerState;
use kindpakket::core::audit::{EntryRow, LedgerData, audit};
use kindpakket::core::category::{Category, CategorySet};
use kindpakket::core::entry::{
    AccountKind, AccountStatus, Body, Entry, FLAG_NO_NEGATIVE, KeyAction, KeyPurpose, Leg,
    SignedEntry, TransferKind,
};
use kindpakket::core::merkle::{self, Frontier, Hash};
use kindpakket::core::money::Cents;
use kindpakket::core::note::{self, Checkpoint, NoteSigner, Vkey};
use kindpakket::core::proof::TlogProof;
use kindpakket::core::token::{self, RECORD_BYTES, TOKEN_BYTES, TokenRecord, VoucherToken};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

const ORIGIN: &str = "kindpakket.example/ledger/test";
/// The ledger key's seed is SHA-256 of this text.
const LEDGER_SEED_TEXT: &str = "kindpakket ledger TEST key - do not use";
/// The voucher key's seed is SHA-256 of this text.
const VOUCHER_SEED_TEXT: &str = "kindpakket voucher TEST key - do not use";
/// 2026-01-01T00:00:00Z in milliseconds; entry `i` has time `T0 + i * 1000`.
const T0: u64 = 1_767_225_600_000;
/// 2027-01-01T00:00:00Z in seconds: the token's expiry.
const TOKEN_EXPIRY: u32 = 1_798_761_600;
/// Entry ids are `ENTRY_ID_BASE + index`.
const ENTRY_ID_BASE: u128 = 0x01941f29_7c00_7000_8000_000000000000;
const EXTERNAL: Uuid = Uuid::from_u128(0x11111111_1111_4111_8111_111111111111);
const FUND: Uuid = Uuid::from_u128(0x22222222_2222_4222_8222_222222222222);
const BANK: Uuid = Uuid::from_u128(0x66666666_6666_4666_8666_666666666666);
const VOUCHER: Uuid = Uuid::from_u128(0x33333333_3333_4333_8333_333333333333);
const PROVIDER: Uuid = Uuid::from_u128(0x44444444_4444_4444_8444_444444444444);
const PARTY: Uuid = Uuid::from_u128(0x55555555_5555_4555_8555_555555555555);
const PAYOUT_REFERENCE: &[u8] = b"kindpakket payout 2026-0001";
/// Index of the redemption; the tlog-proof is for this entry.
const REDEEM_INDEX: u64 = 10;
const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ledger-format.md");
const JSON_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/ledger-v1.json");

/// Hex of every signed entry, in order.
const ENTRY_HEX: &[&str] = &[
    "010100000000000000000000019b76daa80001941f297c0070008000000000000000003f1e6b696e6470616b6b65742e6578616d706c652f6c65646765722f746573742077d3d3868d26e33e8a3b0c96290b0e158aafe3c8ef9bc60e1fc6053d733e524061ac371a49274ff55031570f7dfbf98f23d456c2360dd8c97a22d00b9ff84557c463361402b024088d33ebd6ff8b44328651b3ac112f7b6b7666ef4e0e3d8fdda70d09",
    "010200000000000000010000019b76daabe801941f297c007000800000000000000100260102bec5b6c375e92eba97bf28c0461a71d34137605af5da930e9d06bbc94ef957607f54d9c34061ac37ce043e9ece72e8bcf0130ef600f5bc033216cfcd834dc3ec45a01448007de92dd12c3de642243975083c23b570850c89bea7c20f3199e04f80ba607afe03e200",
    "010300000000000000020000019b76daafd001941f297c007000800000000000000200331111111111114111811111111111111101000000000000000000000000000000000000000000000000000000000000000000004061ac377f8ebbb58e15872faa25d72015d14e49077bc19749907609742ff9b567baf3ec469013bf4858d65b47e68b71dc3b164a377f9871c766867441df953eb1bf4a06",
    "010300000000000000030000019b76dab3b801941f297c007000800000000000000300332222222222224222822222222222222202000100000000000000000000000000000000000000000000000000000000000000004061ac375fca277fdbdfa0b8ff75a77e7f323aef75cf3084b02b31f91e62ff2253beac08a5d4f4956ed90ba187cf010b0912623994575923506485f507203aa487f23709",
    "010300000000000000040000019b76dab7a001941f297c007000800000000000000400336666666666664666866666666666666605000100000000000000000000000000000000000000000000000000000000000000004061ac37b76dbef445ddcdb756c2f3199ef585a3afb2dee78e4341b349f9d78388d03861022fcee9588abcd836202c3afb2a6e660c7d5dc35af80aab044e612b268cac0b",
    "010300000000000000050000019b76dabb8801941f297c007000800000000000000500333333333333334333833333333333333303000122222222222242228222222222222222000000000000000000000000000000004061ac37c90db45f90a23fa1cc2f5fbe95207253381138d2f05f3e234f66b50d4def2e3e23ead2206ff0b214b1d8b01570019216437922789c633edd28c4ef41b38b9008",
    "010300000000000000060000019b76dabf7001941f297c007000800000000000000600334444444444444444844444444444444404000122222222222242228222222222222222555555555555455585555555555555554061ac377635c81e81d726697e539b068ab6db8990304ba0b3e0723dea59452ccc0e97b91c34543709cec58d0ff5d7816a37a2ede00be0edb8209406af3f2dec2216b607",
    "010500000000000000070000019b76dac35801941f297c0070008000000000000007003d01000000000000000000000000000000000001111111111111411181111111111111112222222222224222822222222222222200000000000186a000004061ac372e9c8a2330fa18f629311d987bcee1f2879d198a63d42822ef66558ce84d1231fda3ad96b4e3bd07a14c9e364fb105325c31e1d9dc07cd56b9425aaabdfacb0a",
    "010500000000000000080000019b76dac74001941f297c0070008000000000000008003d02000000000000000000000000000000000001222222222222422282222222222222223333333333334333833333333333333300000000000061a800004061ac37edb72385d285954b1c8f25400ee1d3097fa405779874e042e5653fe30c97e545ba1f7d108151b62f003d787fe1e16da98a6343cf5196dc00e5ac67c2da160400",
    "010500000000000000090000019b76dacb2801941f297c0070008000000000000009003d050000000000000000000000000000000000012222222222224222822222222222222233333333333343338333333333333333000000000000138800004061ac37949a4fb9247e2864fb6af05c4c6016e38a5ba713bb88035aebcb5236cbfad980132b72211b12b7ab0a0d1f3cb29150c49e0cb1981e36e316eab55384a7f6e50e",
    "0105000000000000000a0000019b76dacf1001941f297c007000800000000000000a00780301000000000000000000000000000000000133333333333343338333333333333333444444444444444484444444444444440000000000002ee0003b01bec5b6c3333333333333433383333333333333336b36ec8003004fe5cf07ddc9fcdd2055a999d36f323732f2fef0e3aa49db52de472e098af76c4061ac373716c9d808d1edf0f68f460912a4301d3b618a4b3365c383e41b898394ff12c4a6dfca7395b9784dd5b020783853c1a1935e5ff95294956e0a6c6fb5b58eba01",
    "0105000000000000000b0000019b76dad2f801941f297c007000800000000000000b003d0702000000000000000000000000000000000133333333333343338333333333333333444444444444444484444444444444440000000000000bb800004061ac37bb08e2a4fafc8cf26a00f4c7e84ece82e419904c5995545e6036a4da2557db9b714b7ccd75ef41710a0f098681878121d8f2b09002022cae0c118a30f6582a06",
    "0105000000000000000c0000019b76dad6e001941f297c007000800000000000000c003d040201941f297c007000800000000000000b0144444444444444448444444444444444333333333333433383333333333333330000000000000bb800004061ac37b819562e874cd8289ea0ddcbee88251dd09bbb63ae99452330fd172898c74dd527ed8e686726c7707014398b2df9206f21fbb8732239fc394fa28e775bcdae03",
    "0105000000000000000d0000019b76dadac801941f297c007000800000000000000d00580800000000000000000000000000000000000144444444444444448444444444444444666666666666466686666666666666660000000000002ee0001b6b696e6470616b6b6574207061796f757420323032362d303030314061ac37e88ba0eae1156c1be2c7cdfcb67389ec7dd009f5f40a88d3362bd537874da2aee81114e06bc71c281d335e91311a2a7ebcc32649a35a19e8a2ef44b5b2a8ed01",
    "0104000000000000000e0000019b76dadeb001941f297c007000800000000000000e00123333333333334333833333333333333302014061ac37173213d45bffcc4b4f7825cac04b256f5ff72ccc9cfab55f32ba0861c399d529d0d983399c2665109a9a5d35920976b92f5c63a7a330a2e1de5b79d7d195b60a",
    "0105000000000000000f0000019b76dae29801941f297c007000800000000000000f003d060000000000000000000000000000000000013333333333334333833333333333333322222222222242228222222222222222000000000000465000004061ac37df84a7b8f514a7b2c03d1c9a40d4f384c8f7666f270af84b61ffb4b689b44083680d15a85f0a77cbb81d2b0328710b5ce91e695e1bc5c638c9609b3b2b50410f",
    "010400000000000000100000019b76dae68001941f297c007000800000000000001000123333333333334333833333333333333303014061ac371c573496dbdb915a8df69de6b887e2dbb15be5525341aae12f317cd9fed4bb688320883bf631656686f13c8dc25015bd8158041a259da8ae96b5950ef3adc805",
];

/// Hex of every leaf hash, in order.
const LEAF_HEX: &[&str] = &[
    "239becec9729a2761ff502f5980c1abecb5f5ab99a4480b90df51eb99f47c1ae",
    "b00d94976b301c65627ee16025bdadb7592e331692b06f27a892e178c59d101c",
    "cfa1873157f5b0afc907971812222bccac922d42f13b7a480e084633f01f5751",
    "67535c45184250c6d1540070020c642a18fe2cfd594d91c6e38f792d2665f1b1",
    "d63a1c652a0bed8f64e8397c8a787979c8719de4282a9a27f1afe6d6c49f81b6",
    "1fdb64f94df9ef1e26ec072f81cf8c8af2474e46f99997d7082f2d2f588ac001",
    "58f85315fe10b045014509aab1f777ca079c09e8cc49f94889740e608ada1aee",
    "0e7228e8d55c5491bd2cd8bdba7300b6606a7f4e079ec6e2f31beedc9113736e",
    "a2ed06ba6448b1e6f5013327b0dceffebd23cefe04c0249214b5e7b4df09c480",
    "c3b0668247e47c7208d4b63797657eef7b89634bb645ef05e15328fa03d3b71e",
    "fc9d4f7c541f337920ab96f18824a894f2371e8e375b5e200d28d648248a7cb4",
    "556ae94f7a21bff4f117d06733b4dd73c158cd1e8694df7b4d2e50c6f68ac937",
    "74604e639ff1c3b0f82af2ac01e54d3882aeb2b8ce82abe17b9e9e10ba4518fd",
    "d8bc1967e2aa2f8ee5ddd044ec49859140cb1776563eed6a29b4679ba2aeb50e",
    "f64a1df3c6f8c1b823f4edec6fa66737f6ac66a28ba606858702b874009ca588",
    "ed17a97854f66177d61ee6bec84a9d3572a276eff50ddf3b5fb97648bcf456df",
    "821e2e3718578a0ff8e85dde89b64cc93682f74c57c630d690402c01edd23fc0",
];

/// The root over all entries.
const ROOT_HEX: &str = "d97861b3582989debc6f8064a690bb34fd9fb6fcf35ce17d7014fb2509d20cc4";

/// The signed checkpoint for all entries.
const CHECKPOINT_NOTE: &str = concat!(
    "kindpakket.example/ledger/test\n",
    "17\n",
    "2Xhhs1gpid68b4BkppC7NP2ftvzzXOF9cBT7JQnSDMQ=\n",
    "\n",
    "\u{2014} kindpakket.example/ledger/test QGGsN+CZgB99fx7nJ1PRRl6zhk2IhYZ2sMS0ICPo4QRMU2TP75i5FMqJsAG+S9xeHfo8aGkzukrO3PqquhzULKBI2wQ=\n",
);

/// The tlog-proof of the redemption against that checkpoint.
const TLOG_PROOF: &str = concat!(
    "c2sp.org/tlog-proof@v1\n",
    "index 10\n",
    "VWrpT3ohv/TxF9BnM7Tdc8FYzR6GlN97TS5QxvaKyTc=\n",
    "nEot3DjT734yw3B+suYLYNr8mok6Legw54h6zxrMSIU=\n",
    "7lCHtizzDkacIagyDKQmswSOyqetHrD4QDHBl39oQtc=\n",
    "StqazQ1EM7LHZEBXY1UgRfaTqZirokTkTyh1pjKAVik=\n",
    "gh4uNxhXig/46F3eibZMyTaC90xXxjDWkEAsAe3SP8A=\n",
    "\n",
    "kindpakket.example/ledger/test\n",
    "17\n",
    "2Xhhs1gpid68b4BkppC7NP2ftvzzXOF9cBT7JQnSDMQ=\n",
    "\n",
    "\u{2014} kindpakket.example/ledger/test QGGsN+CZgB99fx7nJ1PRRl6zhk2IhYZ2sMS0ICPo4QRMU2TP75i5FMqJsAG+S9xeHfo8aGkzukrO3PqquhzULKBI2wQ=\n",
);

fn seed_key(text: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(text.as_bytes()).into())
}

struct Vectors {
    ledger_key: SigningKey,
    ledger_key_id: [u8; 4],
    voucher_key: SigningKey,
    token: VoucherToken,
    entries: Vec<SignedEntry>,
    encoded: Vec<Vec<u8>>,
    leaves: Vec<Hash>,
    stored: Vec<Hash>,
    root: Hash,
    checkpoint: Checkpoint,
    note: String,
    proof: TlogProof,
    state: LedgerState,
}

fn leg(debit: Uuid, credit: Uuid, cents: i64) -> Vec<Leg> {
    vec![Leg {
        debit,
        credit,
        amount: Cents(cents),
    }]
}

fn open(account: Uuid, kind: AccountKind, flags: u16, fund: Uuid, party: Uuid) -> Body {
    Body::OpenAccount {
        account,
        kind,
        flags,
        fund,
        party,
    }
}

fn transfer(
    kind: TransferKind,
    category: Option<Category>,
    reference: Uuid,
    legs: Vec<Leg>,
    attachment: Vec<u8>,
) -> Body {
    Body::Transfer {
        kind,
        category,
        reference,
        legs,
        attachment,
    }
}

fn entry_id(index: u64) -> Uuid {
    Uuid::from_u128(ENTRY_ID_BASE + u128::from(index))
}

fn build() -> Vectors {
    let ledger_key = seed_key(LEDGER_SEED_TEXT);
    let ledger_key_id = note::key_id(ORIGIN, ledger_key.verifying_key().as_bytes());
    let voucher_key = seed_key(VOUCHER_SEED_TEXT);
    let voucher_pub = voucher_key.verifying_key();
    let cats: CategorySet = [Category::Sport, Category::Cultuur].into_iter().collect();
    let token = VoucherToken::sign(&voucher_key, VOUCHER, TOKEN_EXPIRY, cats, 0);
    let nil = Uuid::nil();
    let nn = FLAG_NO_NEGATIVE;
    use TransferKind as T;
    let bodies = vec![
        Body::Genesis {
            origin: ORIGIN.into(),
            ledger_key: *ledger_key.verifying_key().as_bytes(),
        },
        Body::KeyEvent {
            action: KeyAction::Added,
            purpose: KeyPurpose::Voucher,
            key_id: token::voucher_key_id(&voucher_pub),
            public_key: *voucher_pub.as_bytes(),
        },
        open(EXTERNAL, AccountKind::External, 0, nil, nil),
        open(FUND, AccountKind::Fund, nn, nil, nil),
        open(BANK, AccountKind::Bank, nn, nil, nil),
        open(VOUCHER, AccountKind::Voucher, nn, FUND, nil),
        open(PROVIDER, AccountKind::Provider, nn, FUND, PARTY),
        transfer(T::Deposit, None, nil, leg(EXTERNAL, FUND, 100_000), vec![]),
        transfer(T::Issue, None, nil, leg(FUND, VOUCHER, 25_000), vec![]),
        transfer(T::TopUp, None, nil, leg(FUND, VOUCHER, 5_000), vec![]),
        transfer(
            T::Redeem,
            Some(Category::Sport),
            nil,
            leg(VOUCHER, PROVIDER, 12_000),
            token.record().to_bytes().to_vec(),
        ),
        transfer(
            T::DirectPayment,
            Some(Category::Cultuur),
            nil,
            leg(VOUCHER, PROVIDER, 3_000),
            vec![],
        ),
        transfer(
            T::Reverse,
            Some(Category::Cultuur),
            entry_id(11),
            leg(PROVIDER, VOUCHER, 3_000),
            vec![],
        ),
        transfer(
            T::Payout,
            None,
            nil,
            leg(PROVIDER, BANK, 12_000),
            PAYOUT_REFERENCE.to_vec(),
        ),
        Body::AccountState {
            account: VOUCHER,
            status: AccountStatus::Blocked,
            generation: 1,
        },
        transfer(T::Expire, None, nil, leg(VOUCHER, FUND, 18_000), vec![]),
        Body::AccountState {
            account: VOUCHER,
            status: AccountStatus::Closed,
            generation: 1,
        },
    ];
    let mut state = LedgerState::new();
    let mut frontier = Frontier::new();
    let mut stored = Vec::new();
    let (mut entries, mut encoded, mut leaves) = (Vec::new(), Vec::new(), Vec::new());
    for (i, body) in bodies.into_iter().enumerate() {
        let index = i as u64;
        let e = Entry {
            index,
            time_ms: T0 + index * 1000,
            id: entry_id(index),
            body,
        }
        .sign(&ledger_key, ledger_key_id)
        .expect("encodable entry");
        let _undo = state
            .apply(&e)
            .unwrap_or_else(|r| panic!("entry {i} is refused: {r}"));
        let bytes = e.encode().expect("encodable entry");
        let leaf = merkle::leaf_hash(&bytes);
        stored.extend(frontier.append(leaf));
        entries.push(e);
        encoded.push(bytes);
        leaves.push(leaf);
    }
    let size = entries.len() as u64;
    let root = frontier.root();
    let checkpoint = Checkpoint {
        origin: ORIGIN.into(),
        size,
        root,
    };
    let note = checkpoint
        .sign(&[NoteSigner {
            name: ORIGIN,
            key: &ledger_key,
        }])
        .expect("signable checkpoint");
    let idx = merkle::inclusion_indexes(REDEEM_INDEX, size).expect("index in tree");
    let hashes: Vec<Hash> = idx.iter().map(|i| stored[*i as usize]).collect();
    let proof = TlogProof {
        extra: None,
        index: REDEEM_INDEX,
        hashes: merkle::inclusion_from_hashes(REDEEM_INDEX, size, &hashes).expect("proof"),
        checkpoint: note.clone(),
    };
    Vectors {
        ledger_key,
        ledger_key_id,
        voucher_key,
        token,
        entries,
        encoded,
        leaves,
        stored,
        root,
        checkpoint,
        note,
        proof,
        state,
    }
}

fn ledger_vkey(v: &Vectors) -> Vkey {
    Vkey::new(ORIGIN, v.ledger_key.verifying_key()).expect("valid key name")
}

#[test]
fn entries_encode_to_the_golden_bytes() {
    let v = build();
    let got: Vec<String> = v.encoded.iter().map(|b| note::hex(b)).collect();
    assert_eq!(got, ENTRY_HEX);
}

#[test]
fn leaf_hashes_root_checkpoint_and_proof_match_the_golden_values() {
    let v = build();
    let got: Vec<String> = v.leaves.iter().map(|h| h.to_hex()).collect();
    assert_eq!(got, LEAF_HEX);
    assert_eq!(v.root.to_hex(), ROOT_HEX);
    assert_eq!(merkle::root_of_leaves(&v.leaves), v.root);
    assert_eq!(v.note, CHECKPOINT_NOTE);
    assert_eq!(v.proof.encode(), TLOG_PROOF);
}

#[test]
fn entries_decode_strictly_and_their_signatures_verify() {
    let v = build();
    let key = v.ledger_key.verifying_key();
    for (e, bytes) in v.entries.iter().zip(&v.encoded) {
        let d = SignedEntry::decode(bytes).expect("decodes");
        assert_eq!(&d, e);
        assert_eq!(&d.encode().expect("encodes"), bytes);
        assert_eq!(d.key_id, v.ledger_key_id);
        assert!(d.verify(&key), "entry {} signature", e.entry.index);
    }
    v.token
        .verify(&v.voucher_key.verifying_key())
        .expect("token signature");
    assert_eq!(VoucherToken::parse(&v.token.encode()), Ok(v.token));
}

/// The redemption's attachment.
fn redeem_attachment(v: &Vectors) -> &[u8] {
    match &v.entries[REDEEM_INDEX as usize].entry.body {
        Body::Transfer {
            kind: TransferKind::Redeem,
            attachment,
            ..
        } => attachment,
        other => panic!("entry {REDEEM_INDEX} is not a redemption: {other:?}"),
    }
}

#[test]
fn the_ledger_carries_the_token_record_but_never_the_token() {
    let v = build();
    let token_bytes = v.token.to_bytes();
    let attachment = redeem_attachment(&v);
    assert_eq!(attachment.len(), RECORD_BYTES);
    assert_eq!(RECORD_BYTES, 59);
    assert_eq!(attachment, v.token.record().to_bytes());
    let record = TokenRecord::from_bytes(attachment).expect("the attachment is a token record");
    assert!(record.matches(&v.token), "the record links to the token");
    assert_eq!(&attachment[..27], &token_bytes[..27]);
    assert_eq!(&attachment[27..], &Sha256::digest(token_bytes)[..]);
    assert_eq!(record.digest, v.token.digest());

    // A token differing only in its signature (here: a forged one) does not match the record.
    let mut forged = v.token;
    forged.signature[0] ^= 1;
    assert!(!record.matches(&forged));
    // Nor does the same voucher's token of another generation.
    let other = VoucherToken::sign(
        &v.voucher_key,
        v.token.voucher,
        v.token.expiry,
        v.token.categories,
        v.token.generation + 1,
    );
    assert!(!record.matches(&other));

    // Neither the whole token nor any 16-byte piece of its signature is in any encoded entry
    // (entries are public: the signature would make the token spendable).
    assert_eq!(token_bytes.len(), TOKEN_BYTES);
    for (i, bytes) in v.encoded.iter().enumerate() {
        assert!(
            !bytes.windows(TOKEN_BYTES).any(|w| w == token_bytes),
            "entry {i} contains the full token"
        );
        for piece in v.token.signature.windows(16) {
            assert!(
                !bytes.windows(16).any(|w| w == piece),
                "entry {i} contains part of the token signature"
            );
        }
    }
}

#[test]
fn the_ledger_replays_and_the_audit_passes() {
    let v = build();
    assert_eq!(v.state.size(), v.entries.len() as u64);
    assert_eq!(v.state.origin(), Some(ORIGIN));
    assert_eq!(v.state.total(), 0);
    let balance = |id: &Uuid| v.state.account(id).expect("account").balance;
    assert_eq!(balance(&EXTERNAL), Cents(-100_000));
    assert_eq!(balance(&FUND), Cents(88_000));
    assert_eq!(balance(&VOUCHER), Cents(0));
    assert_eq!(balance(&PROVIDER), Cents(0));
    assert_eq!(balance(&BANK), Cents(12_000));
    let redemption = v
        .state
        .reversible(&entry_id(REDEEM_INDEX))
        .expect("redemption");
    assert_eq!(redemption.reversed_at, None);
    let direct = v.state.reversible(&entry_id(11)).expect("direct payment");
    assert_eq!(direct.reversed_at, Some(12));

    let data = LedgerData {
        entries: v
            .entries
            .iter()
            .zip(&v.encoded)
            .map(|(e, bytes)| EntryRow {
                index: e.entry.index as i64,
                id: Some(e.entry.id),
                kind: Some(i64::from(e.entry.body.kind().code())),
                bytes: bytes.clone(),
            })
            .collect(),
        stored_hashes: Some(
            v.stored
                .iter()
                .enumerate()
                .map(|(i, h)| (i as i64, *h))
                .collect(),
        ),
        checkpoints: vec![(v.checkpoint.size as i64, v.note.clone())],
    };
    let report = audit(&data, Some(&ledger_vkey(&v))).expect("audit passes");
    assert_eq!(report.origin, ORIGIN);
    assert_eq!(report.size, v.entries.len() as u64);
    assert_eq!(report.root, v.root);
    assert_eq!(report.signatures, v.entries.len());
    assert_eq!(report.redemptions, 1);
    assert_eq!(report.checkpoints, 1);
    assert_eq!(report.balances["external"], Cents(-100_000));
    assert_eq!(report.balances["fund"], Cents(88_000));
    assert_eq!(report.balances["bank"], Cents(12_000));
}

#[test]
fn the_checkpoint_and_the_tlog_proof_verify() {
    let v = build();
    let vkey = ledger_vkey(&v);
    assert_eq!(
        vkey.to_string(),
        "kindpakket.example/ledger/test+4061ac37+ASB309OGjSbjPoo7DJYpCw4Viq/jyO+bxg4fxgU9cz5S"
    );
    let (cp, _) = Checkpoint::verify(&v.note, std::slice::from_ref(&vkey)).expect("checkpoint");
    assert_eq!(cp, v.checkpoint);
    let parsed = TlogProof::parse(&v.proof.encode()).expect("proof parses");
    assert_eq!(parsed, v.proof);
    let leaf = v.leaves[REDEEM_INDEX as usize];
    assert_eq!(
        parsed.verify(ORIGIN, std::slice::from_ref(&vkey), &leaf),
        Ok(v.checkpoint.clone())
    );
    let other = v.leaves[REDEEM_INDEX as usize - 1];
    assert!(parsed.verify(ORIGIN, &[vkey], &other).is_err());
}

#[test]
fn the_document_carries_the_current_vectors() {
    let doc = std::fs::read_to_string(DOC_PATH).expect("read docs/ledger-format.md");
    let v = build();
    let mut wanted: Vec<String> = v.leaves.iter().map(|h| h.to_hex()).collect();
    wanted.push(v.root.to_hex());
    wanted.push(v.note.clone());
    wanted.push(v.proof.encode());
    wanted.push(v.token.encode());
    wanted.push(note::hex(&v.token.record().to_bytes()));
    wanted.push(note::hex(&v.token.digest()));
    for w in wanted {
        assert!(
            doc.contains(&w),
            "docs/ledger-format.md does not contain {w:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The JSON file.

#[derive(Serialize)]
struct Json {
    format: &'static str,
    description: &'static str,
    origin: &'static str,
    ledger_key: KeyJson,
    voucher_key: KeyJson,
    entries: Vec<EntryJson>,
    tree_size: u64,
    root: String,
    root_base64: String,
    checkpoint_note: String,
    tlog_proof: ProofJson,
    token: TokenJson,
    balances: Vec<BalanceJson>,
}

#[derive(Serialize)]
struct KeyJson {
    seed_text: &'static str,
    seed: String,
    public_key: String,
    key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    vkey: Option<String>,
}

#[derive(Serialize)]
struct EntryJson {
    index: u64,
    time_ms: u64,
    id: String,
    kind: &'static str,
    body: BodyJson,
    key_id: String,
    signature: String,
    hex: String,
    leaf_hash: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum BodyJson {
    Genesis {
        origin: String,
        ledger_key: String,
    },
    KeyEvent {
        action: &'static str,
        purpose: &'static str,
        key_id: String,
        public_key: String,
    },
    OpenAccount {
        account: String,
        kind: &'static str,
        flags: u16,
        fund: String,
        party: String,
    },
    AccountState {
        account: String,
        status: &'static str,
        generation: u8,
    },
    Transfer {
        kind: &'static str,
        category: Option<&'static str>,
        reference: String,
        legs: Vec<LegJson>,
        attachment: String,
    },
}

#[derive(Serialize)]
struct LegJson {
    debit: String,
    credit: String,
    amount: i64,
}

#[derive(Serialize)]
struct ProofJson {
    index: u64,
    hashes: Vec<String>,
    text: String,
}

/// The redeemed token: `record` is what entry `entry_index` carries on the ledger; `hex` and
/// `text` are the full token, the holder's off-ledger copy, whose SHA-256 is `digest`.
#[derive(Serialize)]
struct TokenJson {
    entry_index: u64,
    voucher: String,
    expiry: u32,
    categories: u8,
    generation: u8,
    record: String,
    digest: String,
    hex: String,
    text: String,
}

#[derive(Serialize)]
struct BalanceJson {
    account: String,
    kind: &'static str,
    balance: i64,
}

fn body_json(body: &Body) -> BodyJson {
    match body {
        Body::Genesis { origin, ledger_key } => BodyJson::Genesis {
            origin: origin.clone(),
            ledger_key: note::hex(ledger_key),
        },
        Body::KeyEvent {
            action,
            purpose,
            key_id,
            public_key,
        } => BodyJson::KeyEvent {
            action: action.as_str(),
            purpose: purpose.as_str(),
            key_id: note::hex(key_id),
            public_key: note::hex(public_key),
        },
        Body::OpenAccount {
            account,
            kind,
            flags,
            fund,
            party,
        } => BodyJson::OpenAccount {
            account: account.to_string(),
            kind: kind.as_str(),
            flags: *flags,
            fund: fund.to_string(),
            party: party.to_string(),
        },
        Body::AccountState {
            account,
            status,
            generation,
        } => BodyJson::AccountState {
            account: account.to_string(),
            status: status.as_str(),
            generation: *generation,
        },
        Body::Transfer {
            kind,
            category,
            reference,
            legs,
            attachment,
        } => BodyJson::Transfer {
            kind: kind.as_str(),
            category: category.map(Category::as_str),
            reference: reference.to_string(),
            legs: legs
                .iter()
                .map(|l| LegJson {
                    debit: l.debit.to_string(),
                    credit: l.credit.to_string(),
                    amount: l.amount.0,
                })
                .collect(),
            attachment: note::hex(attachment),
        },
    }
}

fn json_text(v: &Vectors) -> String {
    let voucher_pub = v.voucher_key.verifying_key();
    let mut balances: Vec<BalanceJson> = v
        .state
        .accounts()
        .map(|(id, a)| BalanceJson {
            account: id.to_string(),
            kind: a.kind.as_str(),
            balance: a.balance.0,
        })
        .collect();
    balances.sort_by(|a, b| a.account.cmp(&b.account));
    let json = Json {
        format: "kindpakket ledger format v1 test vectors",
        description: "Generated by tests/vectors.rs; specified in docs/ledger-format.md; \
                      checked independently by tests/vectors/verify_vectors.py. Byte strings \
                      are lower-case hex unless named *_base64. The redemption's attachment is \
                      the 59-byte token record (token.record); token.hex and token.text are the \
                      full token, the holder's off-ledger copy, which never appears in an \
                      entry. The keys are public test keys: never use them for anything else.",
        origin: ORIGIN,
        ledger_key: KeyJson {
            seed_text: LEDGER_SEED_TEXT,
            seed: note::hex(v.ledger_key.as_bytes()),
            public_key: note::hex(v.ledger_key.verifying_key().as_bytes()),
            key_id: note::hex(&v.ledger_key_id),
            vkey: Some(ledger_vkey(v).to_string()),
        },
        voucher_key: KeyJson {
            seed_text: VOUCHER_SEED_TEXT,
            seed: note::hex(v.voucher_key.as_bytes()),
            public_key: note::hex(voucher_pub.as_bytes()),
            key_id: note::hex(&token::voucher_key_id(&voucher_pub)),
            vkey: None,
        },
        entries: v
            .entries
            .iter()
            .zip(&v.encoded)
            .zip(&v.leaves)
            .map(|((e, bytes), leaf)| EntryJson {
                index: e.entry.index,
                time_ms: e.entry.time_ms,
                id: e.entry.id.to_string(),
                kind: e.entry.body.kind().as_str(),
                body: body_json(&e.entry.body),
                key_id: note::hex(&e.key_id),
                signature: note::hex(&e.signature),
                hex: note::hex(bytes),
                leaf_hash: leaf.to_hex(),
            })
            .collect(),
        tree_size: v.checkpoint.size,
        root: v.root.to_hex(),
        root_base64: v.root.to_base64(),
        checkpoint_note: v.note.clone(),
        tlog_proof: ProofJson {
            index: v.proof.index,
            hashes: v.proof.hashes.iter().map(|h| h.to_hex()).collect(),
            text: v.proof.encode(),
        },
        token: TokenJson {
            entry_index: REDEEM_INDEX,
            voucher: v.token.voucher.to_string(),
            expiry: v.token.expiry,
            categories: v.token.categories.mask(),
            generation: v.token.generation,
            record: note::hex(&v.token.record().to_bytes()),
            digest: note::hex(&v.token.digest()),
            hex: note::hex(&v.token.to_bytes()),
            text: v.token.encode(),
        },
        balances,
    };
    let mut s = serde_json::to_string_pretty(&json).expect("serializable");
    s.push('\n');
    s
}

#[test]
fn the_json_vectors_file_is_current() {
    let want = json_text(&build());
    if std::env::var_os("KINDPAKKET_UPDATE_VECTORS").is_some() {
        std::fs::write(JSON_PATH, &want).expect("write the vectors file");
        return;
    }
    let have = std::fs::read_to_string(JSON_PATH).expect("read tests/vectors/ledger-v1.json");
    assert!(
        have == want,
        "tests/vectors/ledger-v1.json is stale; regenerate it with \
         KINDPAKKET_UPDATE_VECTORS=1 cargo test --test vectors"
    );
}
