use super::*;
use crate::core::category::CategorySet;
use crate::core::entry::{Entry, FLAG_NO_NEGATIVE, KeyAction};
use crate::core::token::VoucherToken;
use crate::core::{note, token};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

pub(crate) const ORIGIN: &str = "kindpakket.test/ledger";
pub(crate) const FAR_FUTURE: u32 = 4_000_000_000;

/// Builds a signed chain of entries while applying them to a state.
pub(crate) struct Chain {
    pub key: SigningKey,
    pub key_id: [u8; 4],
    pub voucher_key: SigningKey,
    pub state: LedgerState,
    pub entries: Vec<SignedEntry>,
    pub time: u64,
    pub external: Uuid,
    pub bank: Uuid,
}

impl Chain {
    /// A ledger with genesis, a voucher key, one external and one bank account.
    pub fn new() -> Self {
        let key = SigningKey::from_bytes(&[1; 32]);
        let key_id = note::key_id(ORIGIN, key.verifying_key().as_bytes());
        let voucher_key = SigningKey::from_bytes(&[2; 32]);
        let mut c = Chain {
            key,
            key_id,
            voucher_key,
            state: LedgerState::new(),
            entries: Vec::new(),
            time: 1_700_000_000_000,
            external: Uuid::from_u128(0xe),
            bank: Uuid::from_u128(0xb),
        };
        let lk = *c.key.verifying_key().as_bytes();
        c.push(Body::Genesis {
            origin: ORIGIN.into(),
            ledger_key: lk,
        })
        .unwrap();
        let vk = c.voucher_key.verifying_key();
        c.push(Body::KeyEvent {
            action: KeyAction::Added,
            purpose: KeyPurpose::Voucher,
            key_id: token::voucher_key_id(&vk),
            public_key: *vk.as_bytes(),
        })
        .unwrap();
        let (e, b) = (c.external, c.bank);
        c.open(e, AccountKind::External, Uuid::nil(), Uuid::nil())
            .unwrap();
        c.open(b, AccountKind::Bank, Uuid::nil(), Uuid::nil())
            .unwrap();
        c
    }

    pub fn entry(&self, body: Body) -> SignedEntry {
        Entry {
            index: self.state.size(),
            time_ms: self.time,
            id: Uuid::new_v4(),
            body,
        }
        .sign(&self.key, self.key_id)
        .unwrap()
    }

    pub fn push(&mut self, body: Body) -> Result<u64, Rejection> {
        let e = self.entry(body);
        let before = self.state.clone();
        match self.state.apply(&e) {
            Ok(_) => {
                self.entries.push(e);
                self.time += 1000;
                Ok(self.state.size() - 1)
            }
            Err(r) => {
                assert_eq!(self.state, before, "a refused entry changed the state");
                Err(r)
            }
        }
    }

    pub fn open(
        &mut self,
        id: Uuid,
        kind: AccountKind,
        fund: Uuid,
        party: Uuid,
    ) -> Result<u64, Rejection> {
        let flags = if kind == AccountKind::External {
            0
        } else {
            FLAG_NO_NEGATIVE
        };
        self.push(Body::OpenAccount {
            account: id,
            kind,
            flags,
            fund,
            party,
        })
    }

    pub fn transfer(
        &mut self,
        kind: TransferKind,
        debit: Uuid,
        credit: Uuid,
        cents: i64,
    ) -> Result<u64, Rejection> {
        let category = matches!(kind, TransferKind::Redeem | TransferKind::DirectPayment)
            .then_some(Category::Sport);
        let attachment = if kind == TransferKind::Redeem {
            let gen_ = self.state.account(&debit).map_or(0, |a| a.generation);
            self.token(debit, gen_, FAR_FUTURE)
                .record()
                .to_bytes()
                .to_vec()
        } else {
            Vec::new()
        };
        self.push(Body::Transfer {
            kind,
            category,
            reference: Uuid::nil(),
            legs: vec![Leg {
                debit,
                credit,
                amount: Cents(cents),
            }],
            attachment,
        })
    }

    pub fn token(&self, voucher: Uuid, generation: u8, expiry: u32) -> VoucherToken {
        let cats: CategorySet = [Category::Sport, Category::Cultuur].into_iter().collect();
        VoucherToken::sign(&self.voucher_key, voucher, expiry, cats, generation)
    }

    /// Fund with a deposit, one issued voucher and one provider.
    pub fn world(&mut self, deposit: i64, issue: i64) -> (Uuid, Uuid, Uuid) {
        let fund = Uuid::new_v4();
        let voucher = Uuid::new_v4();
        let provider = Uuid::new_v4();
        self.open(fund, AccountKind::Fund, Uuid::nil(), Uuid::nil())
            .unwrap();
        self.open(voucher, AccountKind::Voucher, fund, Uuid::nil())
            .unwrap();
        self.open(provider, AccountKind::Provider, fund, Uuid::new_v4())
            .unwrap();
        let ext = self.external;
        self.transfer(TransferKind::Deposit, ext, fund, deposit)
            .unwrap();
        self.transfer(TransferKind::Issue, fund, voucher, issue)
            .unwrap();
        (fund, voucher, provider)
    }
}

fn bal(c: &Chain, id: &Uuid) -> i64 {
    c.state.account(id).unwrap().balance.0
}

#[test]
fn money_flows_from_sponsor_to_bank_and_balances_sum_to_zero() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    c.transfer(TransferKind::Redeem, voucher, provider, 12_000)
        .unwrap();
    let bank = c.bank;
    c.transfer(TransferKind::Payout, provider, bank, 12_000)
        .unwrap();
    assert_eq!(bal(&c, &c.external), -100_000);
    assert_eq!(bal(&c, &fund), 75_000);
    assert_eq!(bal(&c, &voucher), 13_000);
    assert_eq!(bal(&c, &provider), 0);
    assert_eq!(bal(&c, &c.bank), 12_000);
    assert_eq!(c.state.total(), 0);
}

#[test]
fn redeeming_more_than_the_balance_is_refused() {
    let mut c = Chain::new();
    let (_, voucher, provider) = c.world(100_000, 25_000);
    let err = c
        .transfer(TransferKind::Redeem, voucher, provider, 25_001)
        .unwrap_err();
    assert_eq!(err.code(), "insufficient_balance");
    c.transfer(TransferKind::Redeem, voucher, provider, 25_000)
        .unwrap();
    assert_eq!(
        c.transfer(TransferKind::Redeem, voucher, provider, 1)
            .unwrap_err()
            .code(),
        "insufficient_balance"
    );
}

#[test]
fn funds_cannot_issue_more_than_was_deposited() {
    let mut c = Chain::new();
    let (fund, _, _) = c.world(30_000, 25_000);
    let v2 = Uuid::new_v4();
    c.open(v2, AccountKind::Voucher, fund, Uuid::nil()).unwrap();
    assert_eq!(
        c.transfer(TransferKind::Issue, fund, v2, 5_001)
            .unwrap_err()
            .code(),
        "insufficient_balance"
    );
    c.transfer(TransferKind::Issue, fund, v2, 5_000).unwrap();
}

#[test]
fn a_voucher_is_issued_once_and_topped_up_after() {
    let mut c = Chain::new();
    let (fund, voucher, _) = c.world(100_000, 25_000);
    assert_eq!(
        c.transfer(TransferKind::Issue, fund, voucher, 1)
            .unwrap_err()
            .code(),
        "already_issued"
    );
    c.transfer(TransferKind::TopUp, fund, voucher, 5_000)
        .unwrap();
    assert_eq!(bal(&c, &voucher), 30_000);
    let v2 = Uuid::new_v4();
    c.open(v2, AccountKind::Voucher, fund, Uuid::nil()).unwrap();
    assert!(c.transfer(TransferKind::TopUp, fund, v2, 1).is_err());
}

#[test]
fn transfers_must_follow_their_kinds_path() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    let (other_fund, _, other_provider) = c.world(100_000, 1_000);
    let ext = c.external;
    let bank = c.bank;
    for (kind, d, cr) in [
        (TransferKind::Deposit, ext, voucher),
        (TransferKind::Issue, other_fund, voucher),
        (TransferKind::TopUp, ext, voucher),
        (TransferKind::Redeem, voucher, other_provider),
        (TransferKind::DirectPayment, fund, provider),
        (TransferKind::Expire, voucher, other_fund),
        (TransferKind::Payout, voucher, bank),
        (TransferKind::Payout, provider, ext),
    ] {
        let err = c.transfer(kind, d, cr, 100).unwrap_err();
        assert!(
            matches!(
                err,
                Rejection::InvalidTransfer(_) | Rejection::AlreadyIssued(_)
            ),
            "{kind}: {err}"
        );
    }
    assert_eq!(
        c.transfer(TransferKind::Deposit, ext, ext, 1)
            .unwrap_err()
            .code(),
        "invalid_transfer"
    );
    assert_eq!(
        c.transfer(TransferKind::Deposit, ext, Uuid::new_v4(), 1)
            .unwrap_err()
            .code(),
        "unknown_account"
    );
}

#[test]
fn blocked_vouchers_cannot_be_spent_and_reissue_needs_the_new_generation() {
    let mut c = Chain::new();
    let (_, voucher, provider) = c.world(100_000, 25_000);
    let old = c.token(voucher, 0, FAR_FUTURE);
    c.push(Body::AccountState {
        account: voucher,
        status: AccountStatus::Blocked,
        generation: 0,
    })
    .unwrap();
    assert_eq!(
        c.transfer(TransferKind::Redeem, voucher, provider, 100)
            .unwrap_err()
            .code(),
        "voucher_blocked"
    );
    assert_eq!(
        c.transfer(TransferKind::DirectPayment, voucher, provider, 100)
            .unwrap_err()
            .code(),
        "voucher_blocked"
    );
    c.push(Body::AccountState {
        account: voucher,
        status: AccountStatus::Active,
        generation: 1,
    })
    .unwrap();
    let with_old = c.push(Body::Transfer {
        kind: TransferKind::Redeem,
        category: Some(Category::Sport),
        reference: Uuid::nil(),
        legs: vec![Leg {
            debit: voucher,
            credit: provider,
            amount: Cents(100),
        }],
        attachment: old.record().to_bytes().to_vec(),
    });
    assert_eq!(with_old.unwrap_err().code(), "token_superseded");
    c.transfer(TransferKind::Redeem, voucher, provider, 100)
        .unwrap();
    assert_eq!(
        bal(&c, &voucher),
        24_900,
        "blocking and reissuing keep the balance"
    );
    assert!(
        c.push(Body::AccountState {
            account: voucher,
            status: AccountStatus::Active,
            generation: 3
        })
        .is_err()
    );
}

#[test]
fn redemption_tokens_are_checked_against_voucher_expiry_and_category() {
    let mut c = Chain::new();
    let (_, voucher, provider) = c.world(100_000, 25_000);
    let (_, other_voucher, _) = c.world(100_000, 25_000);
    let redeem = |c: &mut Chain, token: VoucherToken, cat| {
        c.push(Body::Transfer {
            kind: TransferKind::Redeem,
            category: Some(cat),
            reference: Uuid::nil(),
            legs: vec![Leg {
                debit: voucher,
                credit: provider,
                amount: Cents(100),
            }],
            attachment: token.record().to_bytes().to_vec(),
        })
    };
    let expired = c.token(voucher, 0, (c.time / 1000) as u32);
    assert_eq!(
        redeem(&mut c, expired, Category::Sport).unwrap_err().code(),
        "voucher_expired"
    );
    let t = c.token(voucher, 0, FAR_FUTURE);
    assert_eq!(
        redeem(&mut c, t, Category::School).unwrap_err().code(),
        "category_not_allowed"
    );
    let foreign = c.token(other_voucher, 0, FAR_FUTURE);
    assert_eq!(
        redeem(&mut c, foreign, Category::Sport).unwrap_err().code(),
        "invalid_token"
    );
    let unknown_key = VoucherToken::sign(
        &SigningKey::from_bytes(&[77; 32]),
        voucher,
        FAR_FUTURE,
        t.categories,
        0,
    );
    assert_eq!(
        redeem(&mut c, unknown_key, Category::Sport)
            .unwrap_err()
            .code(),
        "invalid_token"
    );
    redeem(&mut c, t, Category::Cultuur).unwrap();
}

#[test]
fn a_redemption_is_reversed_exactly_once_by_its_mirror() {
    let mut c = Chain::new();
    let (_, voucher, provider) = c.world(100_000, 25_000);
    c.transfer(TransferKind::Redeem, voucher, provider, 7_000)
        .unwrap();
    let orig = c.entries.last().unwrap().entry.id;
    let reverse = |c: &mut Chain, amount: i64| {
        c.push(Body::Transfer {
            kind: TransferKind::Reverse,
            category: Some(Category::Sport),
            reference: orig,
            legs: vec![Leg {
                debit: provider,
                credit: voucher,
                amount: Cents(amount),
            }],
            attachment: Vec::new(),
        })
    };
    assert_eq!(
        reverse(&mut c, 6_999).unwrap_err().code(),
        "invalid_transfer"
    );
    reverse(&mut c, 7_000).unwrap();
    assert_eq!(bal(&c, &voucher), 25_000);
    assert_eq!(
        reverse(&mut c, 7_000).unwrap_err().code(),
        "already_reversed"
    );
}

#[test]
fn a_reversal_goes_to_the_fund_only_once_the_voucher_is_closed() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    c.transfer(TransferKind::Redeem, voucher, provider, 7_000)
        .unwrap();
    let orig = c.entries.last().unwrap().entry.id;
    let reverse_to = |c: &mut Chain, credit: Uuid| {
        c.push(Body::Transfer {
            kind: TransferKind::Reverse,
            category: Some(Category::Sport),
            reference: orig,
            legs: vec![Leg {
                debit: provider,
                credit,
                amount: Cents(7_000),
            }],
            attachment: Vec::new(),
        })
    };
    // While the voucher is open, the money must go back to it.
    assert_eq!(
        reverse_to(&mut c, fund).unwrap_err().code(),
        "invalid_transfer"
    );
    // The fund expires: the voucher's rest goes to the fund and the voucher is closed.
    c.transfer(TransferKind::Expire, voucher, fund, 18_000)
        .unwrap();
    c.push(Body::AccountState {
        account: voucher,
        status: AccountStatus::Closed,
        generation: 0,
    })
    .unwrap();
    assert_eq!(
        reverse_to(&mut c, voucher).unwrap_err().code(),
        "invalid_transfer"
    );
    let fund_before = bal(&c, &fund);
    reverse_to(&mut c, fund).unwrap();
    assert_eq!(bal(&c, &fund), fund_before + 7_000);
    assert_eq!(bal(&c, &voucher), 0);
    assert_eq!(
        reverse_to(&mut c, fund).unwrap_err().code(),
        "already_reversed"
    );
}

#[test]
fn a_paid_out_redemption_cannot_be_reversed_from_an_empty_provider() {
    let mut c = Chain::new();
    let (_, voucher, provider) = c.world(100_000, 25_000);
    c.transfer(TransferKind::Redeem, voucher, provider, 7_000)
        .unwrap();
    let orig = c.entries.last().unwrap().entry.id;
    let bank = c.bank;
    c.transfer(TransferKind::Payout, provider, bank, 7_000)
        .unwrap();
    let r = c.push(Body::Transfer {
        kind: TransferKind::Reverse,
        category: Some(Category::Sport),
        reference: orig,
        legs: vec![Leg {
            debit: provider,
            credit: voucher,
            amount: Cents(7_000),
        }],
        attachment: Vec::new(),
    });
    assert_eq!(r.unwrap_err().code(), "insufficient_balance");
}

#[test]
fn expiry_returns_the_rest_to_the_fund() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    c.transfer(TransferKind::Redeem, voucher, provider, 5_000)
        .unwrap();
    c.transfer(TransferKind::Expire, voucher, fund, 20_000)
        .unwrap();
    assert_eq!(bal(&c, &voucher), 0);
    assert_eq!(bal(&c, &fund), 95_000);
}

#[test]
fn sequence_time_ids_genesis_and_signers_are_enforced() {
    let mut c = Chain::new();
    let mut e = c.entry(Body::AccountState {
        account: c.bank,
        status: AccountStatus::Active,
        generation: 0,
    });
    e.entry.index += 1;
    assert!(matches!(
        c.state.apply(&e),
        Err(Rejection::WrongIndex { .. })
    ));
    let mut e = c.entry(Body::Genesis {
        origin: ORIGIN.into(),
        ledger_key: [0; 32],
    });
    e.entry.time_ms = c.time;
    assert_eq!(c.state.apply(&e).unwrap_err(), Rejection::Genesis);
    let mut e = c.entry(Body::OpenAccount {
        account: Uuid::new_v4(),
        kind: AccountKind::Bank,
        flags: FLAG_NO_NEGATIVE,
        fund: Uuid::nil(),
        party: Uuid::nil(),
    });
    e.entry.time_ms = 0;
    assert_eq!(c.state.apply(&e).unwrap_err(), Rejection::TimeWentBack);
    let mut e = c.entry(Body::OpenAccount {
        account: Uuid::new_v4(),
        kind: AccountKind::Bank,
        flags: FLAG_NO_NEGATIVE,
        fund: Uuid::nil(),
        party: Uuid::nil(),
    });
    e.entry.id = c.entries[0].entry.id;
    assert!(matches!(c.state.apply(&e), Err(Rejection::DuplicateId(_))));
    let mut e = c.entry(Body::OpenAccount {
        account: Uuid::new_v4(),
        kind: AccountKind::Bank,
        flags: FLAG_NO_NEGATIVE,
        fund: Uuid::nil(),
        party: Uuid::nil(),
    });
    e.key_id = [0; 4];
    assert_eq!(c.state.apply(&e).unwrap_err(), Rejection::Signer);
    // Only external accounts may go negative.
    let r = c.push(Body::OpenAccount {
        account: Uuid::new_v4(),
        kind: AccountKind::Fund,
        flags: 0,
        fund: Uuid::nil(),
        party: Uuid::nil(),
    });
    assert_eq!(r.unwrap_err().code(), "invalid_account");
}

#[test]
fn ledger_key_rotation_hands_signing_to_the_new_key() {
    let mut c = Chain::new();
    let new = SigningKey::from_bytes(&[5; 32]);
    let pk = *new.verifying_key().as_bytes();
    let new_id = note::key_id(ORIGIN, &pk);
    c.push(Body::KeyEvent {
        action: KeyAction::Added,
        purpose: KeyPurpose::Ledger,
        key_id: new_id,
        public_key: pk,
    })
    .unwrap();
    assert_eq!(c.state.active_key(KeyPurpose::Ledger).unwrap().0, new_id);
    let old_pk = *c.key.verifying_key().as_bytes();
    let old_id = c.key_id;
    c.key = new;
    c.key_id = new_id;
    c.push(Body::KeyEvent {
        action: KeyAction::Retired,
        purpose: KeyPurpose::Ledger,
        key_id: old_id,
        public_key: old_pk,
    })
    .unwrap();
    c.key = SigningKey::from_bytes(&[1; 32]);
    c.key_id = old_id;
    assert_eq!(
        c.push(Body::OpenAccount {
            account: Uuid::new_v4(),
            kind: AccountKind::Bank,
            flags: 1,
            fund: Uuid::nil(),
            party: Uuid::nil()
        })
        .unwrap_err(),
        Rejection::Signer
    );
    // The last ledger key cannot be retired.
    c.key = SigningKey::from_bytes(&[5; 32]);
    c.key_id = new_id;
    let r = c.push(Body::KeyEvent {
        action: KeyAction::Retired,
        purpose: KeyPurpose::Ledger,
        key_id: new_id,
        public_key: pk,
    });
    assert_eq!(r.unwrap_err().code(), "invalid_key_event");
    // A small-order (weak) key is refused.
    let weak = [0u8; 32];
    let weak_id = note::key_id(ORIGIN, &weak);
    let r = c.push(Body::KeyEvent {
        action: KeyAction::Added,
        purpose: KeyPurpose::Ledger,
        key_id: weak_id,
        public_key: weak,
    });
    assert_eq!(r.unwrap_err().code(), "invalid_key_event");
    // A voucher key whose id does not match is refused.
    let r = c.push(Body::KeyEvent {
        action: KeyAction::Added,
        purpose: KeyPurpose::Voucher,
        key_id: [0; 4],
        public_key: pk,
    });
    assert_eq!(r.unwrap_err().code(), "invalid_key_event");
}

#[test]
fn undo_restores_the_exact_previous_state() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    let before = c.state.clone();
    let e = c.entry(Body::Transfer {
        kind: TransferKind::Redeem,
        category: Some(Category::Sport),
        reference: Uuid::nil(),
        legs: vec![Leg {
            debit: voucher,
            credit: provider,
            amount: Cents(1_000),
        }],
        attachment: c.token(voucher, 0, FAR_FUTURE).record().to_bytes().to_vec(),
    });
    let history_before = c.state.history(&voucher).to_vec();
    let provider_history = c.state.history(&provider).len();
    let undo = c.state.apply(&e).unwrap();
    assert_ne!(c.state, before);
    // The redemption joins the history of both accounts it touched, and of no other.
    let mut expected = history_before.clone();
    expected.push(e.entry.index);
    assert_eq!(c.state.history(&voucher), expected.as_slice());
    assert_eq!(c.state.history(&provider).len(), provider_history + 1);
    assert!(!c.state.history(&fund).contains(&e.entry.index));
    c.state.undo(undo);
    assert_eq!(c.state, before);
    assert_eq!(c.state.history(&voucher), history_before.as_slice());
    let e = c.entry(Body::OpenAccount {
        account: Uuid::new_v4(),
        kind: AccountKind::Voucher,
        flags: 1,
        fund,
        party: Uuid::nil(),
    });
    let undo = c.state.apply(&e).unwrap();
    c.state.undo(undo);
    assert_eq!(c.state, before);
}

/// Operations for the model test, on a fixed world of accounts.
#[derive(Debug, Clone)]
enum Op {
    Deposit(usize, i64),
    Issue(usize, i64),
    TopUp(usize, i64),
    Redeem(usize, usize, i64),
    Direct(usize, usize, i64),
    Reverse(usize),
    Expire(usize),
    Payout(usize, i64),
    Block(usize),
    Reissue(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let amt = prop_oneof![1i64..100, 1i64..30_000, Just(i64::MAX)];
    prop_oneof![
        (0..2usize, amt.clone()).prop_map(|(f, a)| Op::Deposit(f, a)),
        (0..4usize, amt.clone()).prop_map(|(v, a)| Op::Issue(v, a)),
        (0..4usize, amt.clone()).prop_map(|(v, a)| Op::TopUp(v, a)),
        (0..4usize, 0..4usize, amt.clone()).prop_map(|(v, p, a)| Op::Redeem(v, p, a)),
        (0..4usize, 0..4usize, amt.clone()).prop_map(|(v, p, a)| Op::Direct(v, p, a)),
        (0..8usize).prop_map(Op::Reverse),
        (0..4usize).prop_map(Op::Expire),
        (0..4usize, amt).prop_map(|(p, a)| Op::Payout(p, a)),
        (0..4usize).prop_map(Op::Block),
        (0..4usize).prop_map(Op::Reissue),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random sequences of operations agree with a plain reference model, keep every
    /// invariant after every step, and replay to the same state.
    #[test]
    fn random_operations_agree_with_a_simple_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut c = Chain::new();
        // Vouchers 0,1 and providers 0,1 belong to fund 0; 2,3 to fund 1.
        let funds = [Uuid::new_v4(), Uuid::new_v4()];
        let vouchers: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
        let providers: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
        for f in funds { c.open(f, AccountKind::Fund, Uuid::nil(), Uuid::nil()).unwrap(); }
        for i in 0..4 {
            c.open(vouchers[i], AccountKind::Voucher, funds[i / 2], Uuid::nil()).unwrap();
            c.open(providers[i], AccountKind::Provider, funds[i / 2], Uuid::new_v4()).unwrap();
        }
        let mut m_ext = 0i64;
        let mut m_bank = 0i64;
        let mut m_fund = [0i64; 2];
        let mut m_v = [0i64; 4];
        let mut m_p = [0i64; 4];
        let mut issued = [false; 4];
        let mut blocked = [false; 4];
        let mut generation = [0u8; 4];
        // (entry id, voucher, provider, amount, reversed)
        let mut spent: Vec<(Uuid, usize, usize, i64, bool)> = Vec::new();
        let (ext, bank) = (c.external, c.bank);
        for op in ops {
            let (expect_ok, result) = match op {
                Op::Deposit(f, a) => {
                    let ok = a > 0 && m_fund[f].checked_add(a).is_some() && m_ext.checked_sub(a).is_some();
                    let r = c.transfer(TransferKind::Deposit, ext, funds[f], a);
                    if ok { m_fund[f] += a; m_ext -= a; }
                    (ok, r)
                }
                Op::Issue(v, a) | Op::TopUp(v, a) => {
                    let issue = matches!(op, Op::Issue(..));
                    let f = v / 2;
                    let ok = a > 0 && a <= m_fund[f] && issued[v] != issue;
                    let kind = if issue { TransferKind::Issue } else { TransferKind::TopUp };
                    let r = c.transfer(kind, funds[f], vouchers[v], a);
                    if ok { m_fund[f] -= a; m_v[v] += a; issued[v] = true; }
                    (ok, r)
                }
                Op::Redeem(v, p, a) | Op::Direct(v, p, a) => {
                    let ok = a > 0 && a <= m_v[v] && v / 2 == p / 2 && !blocked[v];
                    let kind = if matches!(op, Op::Redeem(..)) { TransferKind::Redeem } else { TransferKind::DirectPayment };
                    let r = c.transfer(kind, vouchers[v], providers[p], a);
                    if ok {
                        m_v[v] -= a; m_p[p] += a;
                        spent.push((c.entries.last().unwrap().entry.id, v, p, a, false));
                    }
                    (ok, r)
                }
                Op::Reverse(k) => {
                    let Some(&(id, v, p, a, reversed)) = spent.get(k) else { continue };
                    let ok = !reversed && m_p[p] >= a;
                    let r = c.push(Body::Transfer {
                        kind: TransferKind::Reverse,
                        category: Some(Category::Sport),
                        reference: id,
                        legs: vec![Leg { debit: providers[p], credit: vouchers[v], amount: Cents(a) }],
                        attachment: Vec::new(),
                    });
                    if ok { m_p[p] -= a; m_v[v] += a; spent[k].4 = true; }
                    (ok, r)
                }
                Op::Expire(v) => {
                    let a = m_v[v].max(1);
                    let ok = m_v[v] > 0;
                    let r = c.transfer(TransferKind::Expire, vouchers[v], funds[v / 2], a);
                    if ok { m_v[v] = 0; m_fund[v / 2] += a; }
                    (ok, r)
                }
                Op::Payout(p, a) => {
                    let ok = a > 0 && a <= m_p[p] && m_bank.checked_add(a).is_some();
                    let r = c.transfer(TransferKind::Payout, providers[p], bank, a);
                    if ok { m_p[p] -= a; m_bank += a; }
                    (ok, r)
                }
                Op::Block(v) => {
                    let r = c.push(Body::AccountState { account: vouchers[v], status: AccountStatus::Blocked, generation: generation[v] });
                    blocked[v] = true;
                    (true, r)
                }
                Op::Reissue(v) => {
                    let ok = generation[v] < 255;
                    let r = c.push(Body::AccountState { account: vouchers[v], status: AccountStatus::Active, generation: generation[v].wrapping_add(1) });
                    if ok { generation[v] += 1; blocked[v] = false; }
                    (ok, r)
                }
            };
            prop_assert_eq!(expect_ok, result.is_ok(), "{:?} -> {:?}", op, result);
            prop_assert_eq!(c.state.total(), 0);
            for (id, a) in c.state.accounts() {
                prop_assert!(a.kind == AccountKind::External || a.balance.0 >= 0, "{} negative", id);
            }
            for i in 0..4 {
                prop_assert_eq!(bal(&c, &vouchers[i]), m_v[i]);
                prop_assert_eq!(bal(&c, &providers[i]), m_p[i]);
            }
            for i in 0..2 { prop_assert_eq!(bal(&c, &funds[i]), m_fund[i]); }
        }
        // Replaying every entry from scratch gives the same state.
        let mut replay = LedgerState::new();
        for e in &c.entries { let _ = replay.apply(e).unwrap(); }
        prop_assert_eq!(replay, c.state);
    }
}

#[test]
fn a_reversal_goes_where_the_money_came_from_decided_in_one_place() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    c.transfer(TransferKind::DirectPayment, voucher, provider, 1_000)
        .unwrap();
    let id = c.entries.last().unwrap().entry.id;
    let (legs, category) = c.state.reversal_of(&id).unwrap();
    assert_eq!(
        legs,
        vec![Leg {
            debit: provider,
            credit: voucher,
            amount: Cents(1_000),
        }]
    );
    assert_eq!(category, Some(Category::Sport));
    // Once the voucher is closed (its fund expired), the money goes to the fund instead.
    c.transfer(TransferKind::Expire, voucher, fund, 24_000)
        .unwrap();
    c.push(Body::AccountState {
        account: voucher,
        status: AccountStatus::Closed,
        generation: 0,
    })
    .unwrap();
    let (legs, _) = c.state.reversal_of(&id).unwrap();
    assert_eq!(legs[0].credit, fund);
    assert!(matches!(
        c.state.reversal_of(&Uuid::new_v4()),
        Err(Rejection::UnknownTransfer(_))
    ));
}
