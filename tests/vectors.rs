//! Golden test vectors for the ledger format (version 2) described in `docs/ledger-format.md`.
//!
//! A small ledger is built deterministically (fixed keys, ids, times and commitment salts;
//! Ed25519 signatures are deterministic), and every encoded entry, leaf hash, the root, the
//! signed checkpoint and a tlog-proof are compared with the values written down below and in
//! `tests/vectors/ledger-v2.json`. The JSON file is what `tests/vectors/verify_vectors.py`
//! checks independently of this code.
//!
//! The voucher account never appears in the clear: every appearance is a fresh commitment whose
//! opening (salt and account) is off the public ledger. No `open_account` opens it: its first
//! appearance is the issue that opens and funds it (a household's pooled voucher, two legs). Here the salts are fixed so that the
//! vectors are reproducible: the commitment in slot `s` of entry `i` has the salt of 16 bytes
//! each equal to `8·i + s` (the service draws them at random). The JSON file carries every
//! entry's openings, so that both audits can be replayed: the full one (openings checked, every
//! voucher replayed) and the public one (each fund's vouchers replayed as one pool account).
//!
//! A redemption carries nothing of its token. The JSON file carries the redeemed KP1 token only
//! as the holder's off-ledger copy (its key id, generation and SHA-256 are what the service keeps
//! in its private `redemptions` table).
//!
//! After an intentional format change, regenerate the JSON file with
//! `KINDPAKKET_UPDATE_VECTORS=1 cargo test --test vectors`, then update the constants below and
//! the document.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is a failing test

use ed25519_dalek::SigningKey;
use kindpakket::core::accounts::{LedgerState, pool_id};
use kindpakket::core::audit::{AuditFailure, EntryRow, LedgerData, audit};
use kindpakket::core::category::{Category, CategorySet};
use kindpakket::core::entry::{
    AccountKind, AccountRef, AccountStatus, Body, Entry, FLAG_NO_NEGATIVE, KeyAction, KeyPurpose,
    Leg, Opening, SignedEntry, TransferKind,
};
use kindpakket::core::merkle::{self, Frontier, Hash};
use kindpakket::core::money::Cents;
use kindpakket::core::note::{self, Checkpoint, NoteSigner, Vkey};
use kindpakket::core::proof::TlogProof;
use kindpakket::core::token::{self, TOKEN_BYTES, VoucherToken};
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
/// The voucher's ledger account (private: only ever on the ledger inside commitments).
const VOUCHER_ACCOUNT: Uuid = Uuid::from_u128(0x33333333_3333_4333_8333_333333333333);
/// The voucher id inside its KP1 token: unrelated to its ledger account.
const TOKEN_VOUCHER: Uuid = Uuid::from_u128(0x77777777_7777_4777_8777_777777777777);
const PROVIDER: Uuid = Uuid::from_u128(0x44444444_4444_4444_8444_444444444444);
const PARTY: Uuid = Uuid::from_u128(0x55555555_5555_4555_8555_555555555555);
const PAYOUT_REFERENCE: &[u8] = b"kindpakket payout 2026-0001";
/// Index of the deposit, which the deposit correction refers to.
const DEPOSIT_INDEX: u64 = 6;
/// Index of the pooled issue (two legs to the same voucher), which opens the voucher.
const ISSUE_INDEX: u64 = 8;
/// Index of the redemption; the tlog-proof is for this entry.
const REDEEM_INDEX: u64 = 10;
/// Index of the direct payment, which the reversal refers to.
const DIRECT_INDEX: u64 = 11;
/// Number of voucher commitments on the ledger.
const COMMITMENTS: usize = 9;
const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ledger-format.md");
const JSON_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/ledger-v2.json");

/// Hex of every signed entry, in order.
const ENTRY_HEX: &[&str] = &[
    "020100000000000000000000019b76daa80001941f297c0070008000000000000000003f1e6b696e6470616b6b65742e6578616d706c652f6c65646765722f746573742077d3d3868d26e33e8a3b0c96290b0e158aafe3c8ef9bc60e1fc6053d733e524061ac37783890d746987cb1244656605ea965d40f7e9c94022624b4c9856b794f12c47edcef8a886e028efca3ff9b50e8f1f3e441485c9cfacb9cac88323e4884fe8807",
    "020200000000000000010000019b76daabe801941f297c007000800000000000000100260102bec5b6c375e92eba97bf28c0461a71d34137605af5da930e9d06bbc94ef957607f54d9c34061ac377b9ff2d0f17e28b12d03bff05499f38099e539ac9ea7722b83f9afb0392d975abdef93c173b43cc2a84c8a21f690658e46a51b82dc4c6ee37100c2f423979406",
    "020300000000000000020000019b76daafd001941f297c00700080000000000000020034011111111111114111811111111111111101000000000000000000000000000000000000000000000000000000000000000000004061ac37da32ad69806dd8017022f2a56fde8855bc6a1edc981b010e166f0ee8415b0c898c8c31073c4dad65b9ab725fd2a4d2315ccebcb6ec4eb6d7f20898de058cc700",
    "020300000000000000030000019b76dab3b801941f297c00700080000000000000030034012222222222224222822222222222222202000100000000000000000000000000000000000000000000000000000000000000004061ac37c3b95d7af40232b942bc00a2c8f8e72133f1b6ddb61dddaec120ab70b763285dbaa4f2bca085062bcb708ba17b089b3cc609ed823d720eda02bbba24d93f850f",
    "020300000000000000040000019b76dab7a001941f297c00700080000000000000040034016666666666664666866666666666666605000100000000000000000000000000000000000000000000000000000000000000004061ac3797c977accf2a5cd85d5ce58dffab60b9829b883740f6e0fb9bead5ed38edb12801e137385c90747b242973555f3b1e35d14c4349a1fbfcc49e5d417465e0bb0d",
    "020300000000000000050000019b76dabb8801941f297c00700080000000000000050034014444444444444444844444444444444404000122222222222242228222222222222222555555555555455585555555555555554061ac376939931cac8bd7bcdb4e617552eaa633baa86e5aefbd6141fad27040421b9cce94ab6aff1ed7f71579afd035fde133e23afb29a7464704dbe6e8379e9f57060f",
    "020500000000000000060000019b76dabf7001941f297c0070008000000000000006003f010000000000000000000000000000000000010111111111111141118111111111111111012222222222224222822222222222222200000000000186a000004061ac372decbd3db50e2bf90eabed732d22dfd8e88aa8ce2fdf4bebb9d6bff42cce27b420fcbfda34ffd07e11211fc5e05d36b0dce88756edce06041242fc53853b2e02",
    "020500000000000000070000019b76dac35801941f297c0070008000000000000007003f090001941f297c00700080000000000000060101222222222222422282222222222222220111111111111141118111111111111111000000000000138800004061ac37de06323dd00a1d1a8b85b7089b07747ae93cd4aef08d8958f3afa9b700a0bf7ccdc6833a58e4fae886a819bd63606219e6438b0b59b3009eb83d0b837648f00b",
    "020500000000000000080000019b76dac74001941f297c007000800000000000000800890200000000000000000000000000000000000201222222222222422282222222222222220237404d08d9e6b92f54139b8646d28ce1132b953ccc8a731a3d4a4a14deeefc020000000000003a980122222222222242228222222222222222022f71c186f9a441e091a2b4c0c75f6fe532a9ff47c08c14c3918fbc1bbcd2682a000000000000271000004061ac37f62d1432561ac624995fb70e90198d64590f630e98432cc437f72f8c5d624e9ffa022187287623b096f4eeaaebdd816fd4c68c2a9156f0c057fb5a4273ea0500",
    "020500000000000000090000019b76dacb2801941f297c0070008000000000000009004f05000000000000000000000000000000000001012222222222224222822222222222222202290cbeb9b6d65c35b6245d0f2435f7dc4272ed73ef8d049d8784794243365ea3000000000000138800004061ac3762dbc19c5cd138ea417774ae8b863a909795eb19c61d699a9118f38e04d1cce83a1f120b2e9c2dd28a01d99895aa72bb08b58f72b04c9b4d45522ef56ca9b307",
    "0205000000000000000a0000019b76dacf1001941f297c007000800000000000000a004f0301000000000000000000000000000000000102698937f48812fe0ac85a0960a6e791fe9094f90cc4e2ace62ac1cd35b9c3115801444444444444444484444444444444440000000000002ee000004061ac372417838eda325c7e5e9ec739a16ec654625553c3c7c2dc9bbb2e3c4cded43232c4eca931b6fb43b2ab44e6441a2af64dedcae2f9109791d001b7384b7305ac02",
    "0205000000000000000b0000019b76dad2f801941f297c007000800000000000000b004f0702000000000000000000000000000000000102921926bbff7b73e947a1458282f3b1315b903be024aaecc2f94b4105b23be01901444444444444444484444444444444440000000000000bb800004061ac371687d1923ed188f674a93b4dcb9d2e8bad088d4b61032612fcb5ea29ba3c803eb700c49334d65f70e2cbef0672163a3ef601964c1da567dbb5d1d1b7f6290a01",
    "0205000000000000000c0000019b76dad6e001941f297c007000800000000000000c004f040201941f297c007000800000000000000b0101444444444444444484444444444444440209fb06c9eb4fe6123f7ff5852a984e5d8570fd8aa9c871c78e09b51b996564340000000000000bb800004061ac37f295f6a93261148e80bd5d5ea8e933e8b5507be3162a482397ff32c19c5964689701fed2ad7751c655787272c2d5e722a0646d4035ead2d00eeae4e812154d0a",
    "0205000000000000000d0000019b76dadac801941f297c007000800000000000000d005a08000000000000000000000000000000000001014444444444444444844444444444444401666666666666466686666666666666660000000000002ee0001b6b696e6470616b6b6574207061796f757420323032362d303030314061ac37fdb3c2d039f97784ef837990b410f667fe0d5f50bbdd05dccb486c0c003f70055545b0194e67cc31c6479ceb0bb06e92dfbbc96571f8553fee76910bc6f27e0e",
    "0204000000000000000e0000019b76dadeb001941f297c007000800000000000000e0022027b0b907bb487dffa986d3d33e674c1941aeb7c8ef59c407557f0b48ef2de33b6024061ac373aff394497a42de7e6c1379465911b7c648ae0cf6391df3831e695344712cac5c0fd106bea665e07abf1bf30f971f7419db5a35a3c06a8947a96753efaffc00f",
    "0205000000000000000f0000019b76dae29801941f297c007000800000000000000f004f0600000000000000000000000000000000000102ac8bd058fe4708ee963ac741d756a73f37a6c4a0490e61475ffeed3d603502850122222222222242228222222222222222000000000000465000004061ac37d20c96a13b4b033dc536a1eb7259be96c95b22e63487e10e938bd13b845cf8b152b3e23d8df8590db6c4ba284a660503f7bdc1cb2a811f2612c201c9aa408e08",
    "020400000000000000100000019b76dae68001941f297c0070008000000000000010002202a29736c8aaa42939ccbd54b49ae1467f296b9399c7094ca6cfdcb1d131f51336034061ac37d8edc135464610d0f42269c978f23d3c1dee2d3bd3a3905ad5b765f29c6c1e33ee497ece78840acde4a9a0c118384e06c92895889e7ec6c32bd9849a76dc730a",
];

/// Hex of every leaf hash, in order.
const LEAF_HEX: &[&str] = &[
    "26b457121273ec8dac3b2b0654b08521530e047820207754c979470b0cb5c029",
    "632fdc430b72186b329058da513aa972fc97025326b108cbb932aa1e5b5d6dd4",
    "ed92839614f3738eead42b79b7d73a3eea7df8b727b46373660568c8e45eeb9a",
    "2ef4955746b118e6242db3114f132ef0ac020da8dc4de5e10d9b74d2cdba3f2f",
    "5406d01eb60b9fb85495a021310e01bfaab1e37784dfcb555d374a176c8f49dc",
    "2c88c900edb70bfee5de7af46809da08da15574bf77d5dcb9616aeb2bcc5812a",
    "1aec61fd865a4f0d7111e0d7a072a625f87dd3e34013b96d68a65cf0cb165504",
    "1dcadfb49f13696672e574062f1541045d4d6090cec4d0e659dceef53a679e63",
    "6b33a7b1d9c91f199e725133a7d0e5dc6c0937cd69a6318a41f5783841e413b4",
    "5486e211d5d26a960982223f7b5529a99fb71d1494a20e3b0b97eb18ebffa368",
    "d2ee6134792b8c879a24b354c0e515e6230fa540148db9653564a47575f6cffa",
    "faa017b217348e40dca0f55f283c34e7f8abe2bac8d8dadd0ada43ab180a3548",
    "474d6e4af8b7b7b14a8ff7e412ce72f225455ea20648717ccf63a91d52045ffa",
    "2cb4475731a8a00eede588df98dbd85398fc28f52f8d8838d471fd5f0bd326a6",
    "03312f4ceb69fbf33cd8776a5d97b9ee5620e670137954b27a14d688b26bd0be",
    "c7f552afda05c25c0ba1cc1bf5d18e960b13f89bcb59c97923a0eb9f4ac910ae",
    "bf3cab3cb35211e108f1a96da28fabb42ea817b5a4c24301e226d9acf38d7082",
];

/// The root over all entries.
const ROOT_HEX: &str = "c6f08bf8dedb2b898a1e2d4c50f2f380ab60ab01938e456cb537456e25b9e817";

/// The signed checkpoint for all entries.
const CHECKPOINT_NOTE: &str = concat!(
    "kindpakket.example/ledger/test\n",
    "17\n",
    "xvCL+N7bK4mKHi1MUPLzgKtgqwGTjkVstTdFbiW56Bc=\n",
    "\n",
    "\u{2014} kindpakket.example/ledger/test QGGsNyT/NOzjDR2mTV5nlIzdvPgo6QGfxH3ktKoLjO0twepsm67KRnC3RFsE5SRe76wwQJdHQ+My/3hi7bj/N6dSkgU=\n",
);

/// The tlog-proof of the redemption against that checkpoint.
const TLOG_PROOF: &str = concat!(
    "c2sp.org/tlog-proof@v1\n",
    "index 10\n",
    "+qAXshc0jkDcoPVfKDw05/ir4rrI2NrdCtpDqxgKNUg=\n",
    "ZO4Uk8YRptPCLMFhH06x7GxoDC3xpCtDXYYr5QsYz74=\n",
    "PcvB7NwGmm6AoLTcKgVRIh0g5Hk1hjeZMrymD3euEVk=\n",
    "OjIscLHW+wtnKhkvdDk4n32aoKh2Qd2J/bo0y1sVExQ=\n",
    "vzyrPLNSEeEI8altoo+rtC6oF7WkwkMB4ibZrPONcII=\n",
    "\n",
    "kindpakket.example/ledger/test\n",
    "17\n",
    "xvCL+N7bK4mKHi1MUPLzgKtgqwGTjkVstTdFbiW56Bc=\n",
    "\n",
    "\u{2014} kindpakket.example/ledger/test QGGsNyT/NOzjDR2mTV5nlIzdvPgo6QGfxH3ktKoLjO0twepsm67KRnC3RFsE5SRe76wwQJdHQ+My/3hi7bj/N6dSkgU=\n",
);

fn seed_key(text: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(text.as_bytes()).into())
}

struct Vectors {
    ledger_key: SigningKey,
    ledger_key_id: [u8; 4],
    voucher_key: SigningKey,
    token: VoucherToken,
    /// The signed entries, with the openings of their commitments attached.
    entries: Vec<SignedEntry>,
    encoded: Vec<Vec<u8>>,
    /// Per entry, its openings in slot order.
    openings: Vec<Vec<Opening>>,
    leaves: Vec<Hash>,
    stored: Vec<Hash>,
    root: Hash,
    checkpoint: Checkpoint,
    note: String,
    proof: TlogProof,
    /// The full replay (every voucher, through the openings).
    state: LedgerState,
    /// The public replay (the decoded entries without openings; vouchers pooled per fund).
    public: LedgerState,
}

/// The deterministic salt of the commitment in slot `slot` of entry `index`.
fn salt(index: u64, slot: usize) -> [u8; 16] {
    [u8::try_from(index * 8 + slot as u64).expect("small index"); 16]
}

/// Turns every unsealed voucher reference of `body` into a commitment with its deterministic
/// salt (the test's stand-in for [`Body::seal`], which draws random salts).
fn seal(body: &mut Body, index: u64) {
    let mut slots: Vec<&mut AccountRef> = match body {
        Body::OpenAccount { account, .. } | Body::AccountState { account, .. } => vec![account],
        Body::Transfer { legs, .. } => legs
            .iter_mut()
            .flat_map(|l| [&mut l.debit, &mut l.credit])
            .collect(),
        _ => Vec::new(),
    };
    for (slot, r) in slots.iter_mut().enumerate() {
        if let AccountRef::Voucher(account) = **r {
            let o = Opening {
                salt: salt(index, slot),
                account,
            };
            **r = AccountRef::Committed {
                commitment: o.commitment(),
                opening: Some(o),
            };
        }
    }
}

fn clear(id: Uuid) -> AccountRef {
    AccountRef::Clear(id)
}

fn voucher() -> AccountRef {
    AccountRef::Voucher(VOUCHER_ACCOUNT)
}

fn leg(debit: AccountRef, credit: AccountRef, cents: i64) -> Leg {
    Leg {
        debit,
        credit,
        amount: Cents(cents),
    }
}

fn open(account: AccountRef, kind: AccountKind, flags: u16, fund: Uuid, party: Uuid) -> Body {
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

fn bodies(ledger_key: &SigningKey, voucher_key: &SigningKey) -> Vec<Body> {
    let voucher_pub = voucher_key.verifying_key();
    let nil = Uuid::nil();
    let nn = FLAG_NO_NEGATIVE;
    use TransferKind as T;
    vec![
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
        open(clear(EXTERNAL), AccountKind::External, 0, nil, nil),
        open(clear(FUND), AccountKind::Fund, nn, nil, nil),
        open(clear(BANK), AccountKind::Bank, nn, nil, nil),
        // 5 (no open_account for the voucher: its issue, entry 8, opens it)
        open(clear(PROVIDER), AccountKind::Provider, nn, FUND, PARTY),
        // 6
        transfer(
            T::Deposit,
            None,
            nil,
            vec![leg(clear(EXTERNAL), clear(FUND), 100_000)],
            vec![],
        ),
        // 7: part of the deposit was booked in error and goes back.
        transfer(
            T::DepositCorrection,
            None,
            entry_id(DEPOSIT_INDEX),
            vec![leg(clear(FUND), clear(EXTERNAL), 5_000)],
            vec![],
        ),
        // 8: a household's pooled voucher, one leg per eligible child. The first leg opens the
        // voucher account (and, in the public replay, the fund's pool); the second funds it too.
        transfer(
            T::Issue,
            None,
            nil,
            vec![
                leg(clear(FUND), voucher(), 15_000),
                leg(clear(FUND), voucher(), 10_000),
            ],
            vec![],
        ),
        // 9
        transfer(
            T::TopUp,
            None,
            nil,
            vec![leg(clear(FUND), voucher(), 5_000)],
            vec![],
        ),
        // 10: no token record: the attachment is empty.
        transfer(
            T::Redeem,
            Some(Category::Sport),
            nil,
            vec![leg(voucher(), clear(PROVIDER), 12_000)],
            vec![],
        ),
        // 11
        transfer(
            T::DirectPayment,
            Some(Category::Cultuur),
            nil,
            vec![leg(voucher(), clear(PROVIDER), 3_000)],
            vec![],
        ),
        // 12: the money goes back to the voucher, under a fresh commitment.
        transfer(
            T::Reverse,
            Some(Category::Cultuur),
            entry_id(DIRECT_INDEX),
            vec![leg(clear(PROVIDER), voucher(), 3_000)],
            vec![],
        ),
        // 13
        transfer(
            T::Payout,
            None,
            nil,
            vec![leg(clear(PROVIDER), clear(BANK), 12_000)],
            PAYOUT_REFERENCE.to_vec(),
        ),
        // 14
        Body::AccountState {
            account: voucher(),
            status: AccountStatus::Blocked,
        },
        // 15
        transfer(
            T::Expire,
            None,
            nil,
            vec![leg(voucher(), clear(FUND), 18_000)],
            vec![],
        ),
        // 16
        Body::AccountState {
            account: voucher(),
            status: AccountStatus::Closed,
        },
    ]
}

fn build() -> Vectors {
    let ledger_key = seed_key(LEDGER_SEED_TEXT);
    let ledger_key_id = note::key_id(ORIGIN, ledger_key.verifying_key().as_bytes());
    let voucher_key = seed_key(VOUCHER_SEED_TEXT);
    let cats: CategorySet = [Category::Sport, Category::Cultuur].into_iter().collect();
    let token = VoucherToken::sign(&voucher_key, TOKEN_VOUCHER, TOKEN_EXPIRY, cats, 0);
    let mut state = LedgerState::new();
    let mut public = LedgerState::public();
    let mut frontier = Frontier::new();
    let mut stored = Vec::new();
    let (mut entries, mut encoded, mut openings, mut leaves) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, mut body) in bodies(&ledger_key, &voucher_key).into_iter().enumerate() {
        let index = i as u64;
        seal(&mut body, index);
        let o = body.openings().expect("every commitment has its opening");
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
        let bare = SignedEntry::decode(&bytes).expect("decodes");
        let _undo = public
            .apply(&bare)
            .unwrap_or_else(|r| panic!("entry {i} is refused by the public replay: {r}"));
        let leaf = merkle::leaf_hash(&bytes);
        stored.extend(frontier.append(leaf));
        entries.push(e);
        encoded.push(bytes);
        openings.push(o);
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
        openings,
        leaves,
        stored,
        root,
        checkpoint,
        note,
        proof,
        state,
        public,
    }
}

fn ledger_vkey(v: &Vectors) -> Vkey {
    Vkey::new(ORIGIN, v.ledger_key.verifying_key()).expect("valid key name")
}

/// The audit input: every entry row with its openings (`full`) or without (public).
fn ledger_data(v: &Vectors, full: bool) -> LedgerData {
    LedgerData {
        entries: v
            .entries
            .iter()
            .zip(&v.encoded)
            .zip(&v.openings)
            .map(|((e, bytes), o)| EntryRow {
                index: e.entry.index as i64,
                id: Some(e.entry.id),
                kind: Some(i64::from(e.entry.body.kind().code())),
                bytes: bytes.clone(),
                openings: full.then(|| Opening::encode_all(o)),
            })
            .collect(),
        orphan_openings: Vec::new(),
        stored_hashes: Some(
            v.stored
                .iter()
                .enumerate()
                .map(|(i, h)| (i as i64, *h))
                .collect(),
        ),
        checkpoints: vec![(v.checkpoint.size as i64, v.note.clone())],
        records: None,
    }
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
        assert_eq!(bytes[0], 2, "entry {} version", e.entry.index);
        let d = SignedEntry::decode(bytes).expect("decodes");
        assert_eq!(&d, e);
        assert_eq!(&d.encode().expect("encodes"), bytes);
        assert_eq!(d.key_id, v.ledger_key_id);
        assert!(d.verify(&key), "entry {} signature", e.entry.index);
        // Decoding yields no openings; the openings of the entry fit its commitments.
        let mut opened = d.clone();
        if v.openings[e.entry.index as usize].is_empty() {
            assert_eq!(d.entry.body.openings(), Some(vec![]));
        } else {
            assert_eq!(d.entry.body.openings(), None);
        }
        opened
            .open(&v.openings[e.entry.index as usize])
            .expect("the openings fit");
        assert_eq!(
            opened.entry.body.openings().as_ref(),
            Some(&v.openings[e.entry.index as usize])
        );
        // A version 1 entry is not read any more.
        let mut v1 = bytes.clone();
        v1[0] = 1;
        assert!(SignedEntry::decode(&v1).is_err());
    }
    v.token
        .verify(&v.voucher_key.verifying_key())
        .expect("token signature");
    assert_eq!(VoucherToken::parse(&v.token.encode()), Ok(v.token));
}

#[test]
fn every_voucher_appearance_is_a_fresh_commitment_with_a_deterministic_salt() {
    let v = build();
    let mut all = Vec::new();
    for (e, openings) in v.entries.iter().zip(&v.openings) {
        let index = e.entry.index;
        let refs = e.entry.body.refs();
        let committed: Vec<(usize, [u8; 32])> = refs
            .iter()
            .enumerate()
            .filter_map(|(slot, r)| r.commitment().map(|c| (slot, c)))
            .collect();
        assert_eq!(committed.len(), openings.len(), "entry {index}");
        for ((slot, c), o) in committed.iter().zip(openings) {
            assert_eq!(o.account, VOUCHER_ACCOUNT);
            assert_eq!(o.salt, salt(index, *slot), "entry {index} slot {slot}");
            // SHA-256("kindpakket/voucher-commitment/v2" || 0x00 || salt || account).
            let mut h = Sha256::new();
            h.update(b"kindpakket/voucher-commitment/v2\0");
            h.update(o.salt);
            h.update(o.account.as_bytes());
            let want: [u8; 32] = h.finalize().into();
            assert_eq!(*c, want, "entry {index} slot {slot}");
            all.push(*c);
        }
        // Every other account is in the clear, and only vouchers are committed.
        for r in refs {
            match r.clear() {
                Some(id) => assert_ne!(id, VOUCHER_ACCOUNT),
                None => assert!(r.commitment().is_some()),
            }
        }
    }
    assert_eq!(all.len(), COMMITMENTS);
    let mut unique = all.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "a commitment appears twice");
    // The pooled issue credits the same voucher twice, under two commitments.
    assert_eq!(v.openings[ISSUE_INDEX as usize].len(), 2);
    assert_eq!(
        v.openings[ISSUE_INDEX as usize][0].account,
        v.openings[ISSUE_INDEX as usize][1].account
    );
    // No open_account opens the voucher: its first appearance is the issue that opens it.
    assert_eq!(
        v.openings.iter().position(|o| !o.is_empty()),
        Some(ISSUE_INDEX as usize)
    );
    assert!(v.entries.iter().all(|e| !matches!(
        e.entry.body,
        Body::OpenAccount {
            kind: AccountKind::Voucher,
            ..
        }
    )));
}

#[test]
fn the_public_ledger_carries_neither_the_voucher_account_nor_anything_of_the_token() {
    let v = build();
    // The redemption's attachment is empty: no token record any more.
    match &v.entries[REDEEM_INDEX as usize].entry.body {
        Body::Transfer {
            kind: TransferKind::Redeem,
            attachment,
            ..
        } => assert!(attachment.is_empty()),
        other => panic!("entry {REDEEM_INDEX} is not a redemption: {other:?}"),
    }
    let token_bytes = v.token.to_bytes();
    assert_eq!(token_bytes.len(), TOKEN_BYTES);
    for (i, bytes) in v.encoded.iter().enumerate() {
        let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(
            !has(VOUCHER_ACCOUNT.as_bytes()),
            "entry {i}: voucher account"
        );
        assert!(
            !has(TOKEN_VOUCHER.as_bytes()),
            "entry {i}: token's voucher id"
        );
        assert!(!has(&token_bytes[..27]), "entry {i}: token fields");
        assert!(!has(&v.token.digest()), "entry {i}: token digest");
        for piece in v.token.signature.windows(16) {
            assert!(!has(piece), "entry {i}: part of the token signature");
        }
    }
}

/// Balances of a replay as `(account, kind, cents)`, sorted by account.
fn balances(state: &LedgerState) -> Vec<(Uuid, AccountKind, i64)> {
    let mut b: Vec<_> = state
        .accounts()
        .map(|(id, a)| (*id, a.kind, a.balance.0))
        .collect();
    b.sort_by_key(|x| x.0);
    b
}

#[test]
fn both_replays_reach_the_expected_balances() {
    let v = build();
    // Full replay: every voucher.
    assert_eq!(v.state.size(), v.entries.len() as u64);
    assert_eq!(v.state.origin(), Some(ORIGIN));
    assert_eq!(v.state.total(), 0);
    assert_eq!(
        balances(&v.state),
        vec![
            (EXTERNAL, AccountKind::External, -95_000),
            (FUND, AccountKind::Fund, 83_000),
            (VOUCHER_ACCOUNT, AccountKind::Voucher, 0),
            (PROVIDER, AccountKind::Provider, 0),
            (BANK, AccountKind::Bank, 12_000),
        ]
    );
    let account = v.state.account(&VOUCHER_ACCOUNT).expect("voucher");
    assert_eq!(account.status, AccountStatus::Closed);
    // The issue opened it: a voucher of the fund it debits, that may not go negative.
    assert_eq!(account.opened_at, ISSUE_INDEX);
    assert_eq!(account.fund, FUND);
    assert_eq!(account.flags, FLAG_NO_NEGATIVE);
    assert!(account.party.is_nil());
    assert_eq!(v.state.history(&VOUCHER_ACCOUNT)[0], ISSUE_INDEX);
    let redemption = v
        .state
        .reversible(&entry_id(REDEEM_INDEX))
        .expect("redemption");
    assert_eq!(redemption.reversed_at, None);
    assert_eq!(redemption.legs[0].debit, VOUCHER_ACCOUNT);
    let direct = v
        .state
        .reversible(&entry_id(DIRECT_INDEX))
        .expect("direct payment");
    assert_eq!(direct.reversed_at, Some(DIRECT_INDEX + 1));

    // Public replay: the fund's vouchers are one pool account,
    // SHA-256("kindpakket/voucher-pool/v2" || 0x00 || fund)[:16].
    let mut h = Sha256::new();
    h.update(b"kindpakket/voucher-pool/v2\0");
    h.update(FUND.as_bytes());
    let pool = Uuid::from_slice(&h.finalize()[..16]).expect("16 bytes");
    assert_eq!(pool_id(&FUND), pool);
    assert!(v.public.is_public());
    assert_eq!(v.public.total(), 0);
    let mut want = vec![
        (EXTERNAL, AccountKind::External, -95_000),
        (FUND, AccountKind::Fund, 83_000),
        (pool, AccountKind::Voucher, 0),
        (PROVIDER, AccountKind::Provider, 0),
        (BANK, AccountKind::Bank, 12_000),
    ];
    want.sort_by_key(|x| x.0);
    assert_eq!(balances(&v.public), want);
    assert!(v.public.account(&VOUCHER_ACCOUNT).is_none());
    // The fund's first issue created its pool, with the fields of a voucher the issue opens.
    let p = v.public.account(&pool).expect("pool");
    assert_eq!(
        (p.opened_at, p.fund, p.flags, p.party, p.status),
        (
            ISSUE_INDEX,
            FUND,
            FLAG_NO_NEGATIVE,
            Uuid::nil(),
            AccountStatus::Active
        )
    );
}

#[test]
fn the_full_and_the_public_audit_pass() {
    let v = build();
    let trusted = ledger_vkey(&v);
    for full in [true, false] {
        let report = audit(&ledger_data(&v, full), Some(&trusted))
            .unwrap_or_else(|f| panic!("audit (full: {full}) fails: {f}"));
        assert_eq!(report.full, full);
        assert_eq!(report.origin, ORIGIN);
        assert_eq!(report.size, v.entries.len() as u64);
        assert_eq!(report.root, v.root);
        assert_eq!(report.signatures, v.entries.len());
        assert_eq!(report.redemptions, 1);
        assert_eq!(report.checkpoints, 1);
        assert_eq!(report.commitments, COMMITMENTS);
        assert_eq!(report.balances["external"], Cents(-95_000));
        assert_eq!(report.balances["fund"], Cents(83_000));
        assert_eq!(report.balances["voucher"], Cents(0));
        assert_eq!(report.balances["provider"], Cents(0));
        assert_eq!(report.balances["bank"], Cents(12_000));
        let want = if full { &v.state } else { &v.public };
        assert_eq!(balances(&report.state), balances(want));
        let prefix = if full {
            "ok, full audit ("
        } else {
            "ok, public audit ("
        };
        assert!(report.summary().starts_with(prefix), "{}", report.summary());
    }
}

#[test]
fn flipping_any_bit_of_any_opening_fails_the_full_audit_naming_that_entry() {
    let v = build();
    let data = ledger_data(&v, true);
    let mut checked = 0;
    for i in 0..data.entries.len() {
        let len = data.entries[i].openings.as_ref().map_or(0, Vec::len);
        for byte in 0..len {
            for bit in 0..8 {
                let mut d = data.clone();
                d.entries[i].openings.as_mut().expect("full")[byte] ^= 1 << bit;
                match audit(&d, None) {
                    Err(AuditFailure::Entry { index, reason }) => {
                        assert_eq!(index, i as u64, "byte {byte} bit {bit} of entry {i}");
                        assert!(reason.contains("bad opening"), "entry {i}: {reason}");
                    }
                    other => panic!("byte {byte} bit {bit} of entry {i}: {other:?}"),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, COMMITMENTS * 32 * 8);
}

#[test]
fn missing_extra_and_orphan_openings_fail_the_full_audit() {
    let v = build();
    let data = ledger_data(&v, true);
    let entry_fails = |d: &LedgerData, want: usize| match audit(d, None) {
        Err(AuditFailure::Entry { index, reason }) => {
            assert_eq!(index, want as u64, "{reason}");
            assert!(reason.contains("bad opening"), "{reason}");
        }
        other => panic!("entry {want}: {other:?}"),
    };
    // A missing opening (the pooled issue keeps only its first).
    let mut d = data.clone();
    d.entries[ISSUE_INDEX as usize]
        .openings
        .as_mut()
        .expect("full")
        .truncate(32);
    entry_fails(&d, ISSUE_INDEX as usize);
    // A truncated opening.
    let mut d = data.clone();
    d.entries[REDEEM_INDEX as usize]
        .openings
        .as_mut()
        .expect("full")
        .pop();
    entry_fails(&d, REDEEM_INDEX as usize);
    // An opening for an entry without commitments (the deposit).
    let mut d = data.clone();
    d.entries[DEPOSIT_INDEX as usize].openings =
        Some(Opening::encode_all(&v.openings[REDEEM_INDEX as usize]));
    entry_fails(&d, DEPOSIT_INDEX as usize);
    // The openings of two entries swapped.
    let mut d = data.clone();
    let (a, b) = (REDEEM_INDEX as usize, DIRECT_INDEX as usize);
    let oa = d.entries[a].openings.take();
    d.entries[a].openings = std::mem::replace(&mut d.entries[b].openings, oa);
    entry_fails(&d, a);
    // Openings stored for an index without an entry.
    let mut d = data.clone();
    d.orphan_openings = vec![v.entries.len() as i64];
    assert!(
        matches!(audit(&d, None), Err(AuditFailure::Ledger(m)) if m.contains("no entry")),
        "orphan openings"
    );
    // Some rows with openings and some without.
    let mut d = data.clone();
    d.entries[3].openings = None;
    assert!(matches!(audit(&d, None), Err(AuditFailure::Ledger(_))));
}

/// The state just before entry `upto` (full replay).
fn state_before(v: &Vectors, upto: u64) -> LedgerState {
    let mut s = LedgerState::new();
    for e in &v.entries[..upto as usize] {
        let _undo = s.apply(e).expect("replays");
    }
    s
}

/// The state just before entry `upto` (public replay: the entries as published, no openings).
fn public_state_before(v: &Vectors, upto: u64) -> LedgerState {
    let mut s = LedgerState::public();
    for bytes in &v.encoded[..upto as usize] {
        let bare = SignedEntry::decode(bytes).expect("decodes");
        let _undo = s.apply(&bare).expect("replays");
    }
    s
}

#[test]
fn the_new_rules_refuse_what_they_should() {
    let v = build();
    let sign = |index: u64, mut body: Body| {
        seal(&mut body, index);
        Entry {
            index,
            time_ms: T0 + index * 1000,
            id: entry_id(index + 1000),
            body,
        }
        .sign(&v.ledger_key, v.ledger_key_id)
        .expect("encodable")
    };
    // The same entry as the public sees it: no openings.
    let bare =
        |e: &SignedEntry| SignedEntry::decode(&e.encode().expect("encodes")).expect("decodes");
    let code = |s: &mut LedgerState, e: &SignedEntry| s.apply(e).map(|_| ()).map_err(|r| r.code());
    // The code of the full replay and of the public replay just before entry `i`.
    let both = |i: u64, body: Body| {
        let e = sign(i, body);
        (
            code(&mut state_before(&v, i), &e),
            code(&mut public_state_before(&v, i), &bare(&e)),
        )
    };
    let correction = |reference: Uuid, cents: i64| {
        transfer(
            TransferKind::DepositCorrection,
            None,
            reference,
            vec![leg(clear(FUND), clear(EXTERNAL), cents)],
            vec![],
        )
    };
    let issue_to = |credit: AccountRef| {
        transfer(
            TransferKind::Issue,
            None,
            Uuid::nil(),
            vec![leg(clear(FUND), credit, 1)],
            vec![],
        )
    };
    // After the first correction (5,000 of 100,000), at most 95,000 more can be taken back.
    let i = ISSUE_INDEX;
    let mut s = state_before(&v, i);
    assert_eq!(
        code(
            &mut s,
            &sign(i, correction(entry_id(DEPOSIT_INDEX), 95_001))
        ),
        Err("correction_too_large")
    );
    assert_eq!(
        code(&mut s, &sign(i, correction(entry_id(DEPOSIT_INDEX + 1), 1))),
        Err("unknown_deposit")
    );
    assert_eq!(
        code(
            &mut s,
            &sign(i, correction(entry_id(DEPOSIT_INDEX), 95_000))
        ),
        Ok(())
    );
    // open_account does not open a voucher, in either replay: its first issue does. Neither the
    // voucher (before or after its issue), nor a new one, nor the kind voucher in the clear.
    let nn = FLAG_NO_NEGATIVE;
    let nil = Uuid::nil();
    let other = AccountRef::Voucher(Uuid::from_u128(0x88888888_8888_4888_8888_888888888888));
    for i in [ISSUE_INDEX, ISSUE_INDEX + 1] {
        for account in [voucher(), other] {
            assert_eq!(
                both(i, open(account, AccountKind::Voucher, nn, FUND, nil)),
                (Err("invalid_account"), Err("invalid_account")),
                "open_account of a voucher before entry {i}"
            );
        }
    }
    assert_eq!(
        both(
            ISSUE_INDEX,
            open(clear(VOUCHER_ACCOUNT), AccountKind::Voucher, nn, FUND, nil)
        ),
        (Err("invalid_account"), Err("invalid_account"))
    );
    // Pool ids are reserved in both replays: no account takes an existing fund's.
    assert_eq!(
        both(
            ISSUE_INDEX,
            open(clear(pool_id(&FUND)), AccountKind::Bank, nn, nil, nil)
        ),
        (Err("invalid_account"), Err("invalid_account"))
    );
    // A top-up of a voucher that no issue has opened: an unknown account (in the public
    // replay: the fund has no pool yet).
    let top_up = transfer(
        TransferKind::TopUp,
        None,
        Uuid::nil(),
        vec![leg(clear(FUND), voucher(), 1)],
        vec![],
    );
    assert_eq!(
        both(ISSUE_INDEX, top_up.clone()),
        (Err("unknown_account"), Err("unknown_account"))
    );
    assert_eq!(both(ISSUE_INDEX + 1, top_up), (Ok(()), Ok(())));
    // An issue that would open the voucher under a fund's pool id, or the nil id: refused where
    // openings are known; the public replay sees the fund's pool.
    assert_eq!(
        both(ISSUE_INDEX, issue_to(AccountRef::Voucher(pool_id(&FUND)))),
        (Err("invalid_account"), Ok(()))
    );
    assert_eq!(
        both(ISSUE_INDEX, issue_to(AccountRef::Voucher(Uuid::nil()))),
        (Err("invalid_account"), Ok(()))
    );
    // An issue to a voucher that an earlier entry opened (issued): refused in the full replay;
    // the public replay's pool takes any number of issues.
    assert_eq!(
        both(ISSUE_INDEX + 1, issue_to(voucher())),
        (Err("already_issued"), Ok(()))
    );
    // A new voucher opened by an issue from an account that is not a fund: the path rule.
    assert_eq!(
        both(
            REDEEM_INDEX,
            transfer(
                TransferKind::Issue,
                None,
                Uuid::nil(),
                vec![leg(clear(PROVIDER), other, 1)],
                vec![],
            )
        ),
        (Err("invalid_transfer"), Err("invalid_transfer"))
    );
    // A commitment that is already on the ledger (the redemption's, used again).
    let i = REDEEM_INDEX + 1;
    let mut s = state_before(&v, i);
    let Body::Transfer { legs, .. } = &v.entries[REDEEM_INDEX as usize].entry.body else {
        panic!("a transfer")
    };
    let again = transfer(
        TransferKind::DirectPayment,
        Some(Category::Sport),
        Uuid::nil(),
        vec![leg(legs[0].debit, clear(PROVIDER), 1)],
        vec![],
    );
    assert_eq!(code(&mut s, &sign(i, again)), Err("duplicate_commitment"));
    // The voucher named in the clear.
    let in_clear = transfer(
        TransferKind::DirectPayment,
        Some(Category::Sport),
        Uuid::nil(),
        vec![leg(clear(VOUCHER_ACCOUNT), clear(PROVIDER), 1)],
        vec![],
    );
    assert_eq!(code(&mut s, &sign(i, in_clear)), Err("invalid_account"));
    // A redemption with an attachment.
    let attached = transfer(
        TransferKind::Redeem,
        Some(Category::Sport),
        Uuid::nil(),
        vec![leg(voucher(), clear(PROVIDER), 1)],
        vec![1],
    );
    assert_eq!(code(&mut s, &sign(i, attached)), Err("invalid_transfer"));
    // A commitment without its opening, in a full replay.
    let bare = SignedEntry::decode(&v.encoded[REDEEM_INDEX as usize]).expect("decodes");
    let mut s = state_before(&v, REDEEM_INDEX);
    assert_eq!(code(&mut s, &bare), Err("bad_opening"));
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
    wanted.push(note::hex(&v.token.digest()));
    wanted.push(note::hex(pool_id(&FUND).as_bytes()));
    for o in v.openings.iter().flatten() {
        wanted.push(note::hex(&o.commitment()));
    }
    for w in wanted {
        assert!(
            doc.contains(&w),
            "docs/ledger-format.md does not contain {w:?}"
        );
    }
    assert!(doc.starts_with("# Kindpakket ledger format, version 2\n"));
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
    commitments: usize,
    pools: Vec<PoolJson>,
    balances: BalancesJson,
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
    /// The openings of the entry's commitments, 32 bytes each (salt, account) in slot order.
    openings: String,
}

/// An account reference: `{"clear": uuid}` or `{"commitment": hex}`.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum RefJson {
    Clear(String),
    Commitment(String),
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
        account: RefJson,
        kind: &'static str,
        flags: u16,
        fund: String,
        party: String,
    },
    AccountState {
        account: RefJson,
        status: &'static str,
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
    debit: RefJson,
    credit: RefJson,
    amount: i64,
}

#[derive(Serialize)]
struct ProofJson {
    index: u64,
    hashes: Vec<String>,
    text: String,
}

/// The token the holder presented for the redemption `redemption_index`: not on the ledger.
/// The service keeps its key id, generation and SHA-256 (`digest`) in its private
/// `redemptions` table; `voucher` is the id inside the token, `voucher_account` the voucher's
/// (unrelated) ledger account.
#[derive(Serialize)]
struct TokenJson {
    redemption_index: u64,
    voucher: String,
    voucher_account: String,
    key_id: String,
    expiry: u32,
    categories: u8,
    generation: u8,
    digest: String,
    hex: String,
    text: String,
}

#[derive(Serialize)]
struct PoolJson {
    fund: String,
    account: String,
}

#[derive(Serialize)]
struct BalancesJson {
    full: Vec<BalanceJson>,
    public: Vec<BalanceJson>,
}

#[derive(Serialize)]
struct BalanceJson {
    account: String,
    kind: &'static str,
    balance: i64,
}

fn ref_json(r: &AccountRef) -> RefJson {
    match (r.clear(), r.commitment()) {
        (Some(id), _) => RefJson::Clear(id.to_string()),
        (None, Some(c)) => RefJson::Commitment(note::hex(&c)),
        (None, None) => panic!("an unsealed reference"),
    }
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
            account: ref_json(account),
            kind: kind.as_str(),
            flags: *flags,
            fund: fund.to_string(),
            party: party.to_string(),
        },
        Body::AccountState { account, status } => BodyJson::AccountState {
            account: ref_json(account),
            status: status.as_str(),
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
                    debit: ref_json(&l.debit),
                    credit: ref_json(&l.credit),
                    amount: l.amount.0,
                })
                .collect(),
            attachment: note::hex(attachment),
        },
    }
}

fn balances_json(state: &LedgerState) -> Vec<BalanceJson> {
    let mut b: Vec<BalanceJson> = state
        .accounts()
        .map(|(id, a)| BalanceJson {
            account: id.to_string(),
            kind: a.kind.as_str(),
            balance: a.balance.0,
        })
        .collect();
    b.sort_by(|a, b| a.account.cmp(&b.account));
    b
}

fn json_text(v: &Vectors) -> String {
    let voucher_pub = v.voucher_key.verifying_key();
    let json = Json {
        format: "kindpakket ledger format v2 test vectors",
        description: "Generated by tests/vectors.rs; specified in docs/ledger-format.md; \
                      checked independently by tests/vectors/verify_vectors.py. Byte strings \
                      are lower-case hex unless named *_base64. Each entry's openings are the \
                      openings of its voucher commitments (salt and account, 32 bytes each, in \
                      slot order; private in a real ledger); the salts are fixed here (16 bytes \
                      of 8*index+slot) so that the vectors are reproducible. The redemption \
                      carries nothing of its token: token is the holder's off-ledger copy. \
                      balances.full is the replay with openings, balances.public the replay \
                      without them (each fund's vouchers as one pool account). The keys are \
                      public test keys: never use them for anything else.",
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
            .zip(&v.openings)
            .map(|(((e, bytes), leaf), o)| EntryJson {
                index: e.entry.index,
                time_ms: e.entry.time_ms,
                id: e.entry.id.to_string(),
                kind: e.entry.body.kind().as_str(),
                body: body_json(&e.entry.body),
                key_id: note::hex(&e.key_id),
                signature: note::hex(&e.signature),
                hex: note::hex(bytes),
                leaf_hash: leaf.to_hex(),
                openings: note::hex(&Opening::encode_all(o)),
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
            redemption_index: REDEEM_INDEX,
            voucher: v.token.voucher.to_string(),
            voucher_account: VOUCHER_ACCOUNT.to_string(),
            key_id: note::hex(&v.token.key_id),
            expiry: v.token.expiry,
            categories: v.token.categories.mask(),
            generation: v.token.generation,
            digest: note::hex(&v.token.digest()),
            hex: note::hex(&v.token.to_bytes()),
            text: v.token.encode(),
        },
        commitments: v.openings.iter().map(Vec::len).sum(),
        pools: vec![PoolJson {
            fund: FUND.to_string(),
            account: pool_id(&FUND).to_string(),
        }],
        balances: BalancesJson {
            full: balances_json(&v.state),
            public: balances_json(&v.public),
        },
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
    let have = std::fs::read_to_string(JSON_PATH).expect("read tests/vectors/ledger-v2.json");
    assert!(
        have == want,
        "tests/vectors/ledger-v2.json is stale; regenerate it with \
         KINDPAKKET_UPDATE_VECTORS=1 cargo test --test vectors"
    );
}
