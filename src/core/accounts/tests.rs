use super::*;
use crate::core::entry::{Entry, FLAG_NO_NEGATIVE, KeyAction, Leg, Opening};
use crate::core::{note, token};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

pub(crate) const ORIGIN: &str = "kindpakket.test/ledger";

/// Builds a signed chain of entries while applying them to a state.
pub(crate) struct Chain {
    pub key: SigningKey,
    pub key_id: [u8; 4],
    pub voucher_key: SigningKey,
    pub state: LedgerState,
    /// The entries as written, with their openings attached.
    pub entries: Vec<SignedEntry>,
    pub time: u64,
    pub external: Uuid,
    pub bank: Uuid,
    /// Vouchers named before their issue opens them.
    pub vouchers: HashSet<Uuid>,
}

/// A voucher reference with a chosen salt, and its opening.
pub(crate) fn committed(account: Uuid, salt: u8) -> (AccountRef, Opening) {
    let o = Opening {
        salt: [salt; 16],
        account,
    };
    (
        AccountRef::Committed {
            commitment: o.commitment(),
            opening: Some(o),
        },
        o,
    )
}

/// The same commitment without its opening, as the public sees it.
pub(crate) fn unopened(r: &AccountRef) -> AccountRef {
    AccountRef::Committed {
        commitment: r.commitment().unwrap(),
        opening: None,
    }
}

/// An entry as the public gets it: its bytes, so every commitment comes without an opening.
pub(crate) fn public_copy(e: &SignedEntry) -> SignedEntry {
    SignedEntry::decode(&e.encode().unwrap()).unwrap()
}

/// Replays entries as the public audit does.
pub(crate) fn replay_public(entries: &[SignedEntry]) -> LedgerState {
    let mut s = LedgerState::public();
    for e in entries {
        let p = public_copy(e);
        // The public bytes carry no opening.
        let n = p
            .entry
            .body
            .refs()
            .iter()
            .filter(|r| r.commitment().is_some())
            .count();
        assert_eq!(p.entry.body.openings().is_some(), n == 0);
        let _ = s
            .apply(&p)
            .unwrap_or_else(|r| panic!("public replay of entry {}: {r}", p.entry.index));
    }
    s
}

/// A public replay matches the full one: every account in the clear is exactly the same (with
/// the same history), and each fund's pool holds what that fund's vouchers hold together.
pub(crate) fn assert_public_matches(full: &LedgerState, public: &LedgerState) {
    assert!(public.is_public() && !full.is_public());
    assert_eq!(public.size(), full.size());
    assert_eq!(public.last_time_ms(), full.last_time_ms());
    let mut pools: HashMap<Uuid, i64> = HashMap::new();
    let mut clear = 0usize;
    for (id, a) in full.accounts() {
        if a.kind == AccountKind::Voucher {
            *pools.entry(a.fund).or_default() += a.balance.0;
            assert!(
                public.account(id).is_none(),
                "voucher {id} in the public replay"
            );
        } else {
            clear += 1;
            assert_eq!(public.account(id), Some(a), "account {id}");
            assert_eq!(public.history(id), full.history(id), "history of {id}");
        }
    }
    for (fund, sum) in &pools {
        let p = public
            .account(&pool_id(fund))
            .unwrap_or_else(|| panic!("no pool for fund {fund}"));
        assert_eq!(p.kind, AccountKind::Voucher);
        assert_eq!(p.fund, *fund);
        assert_eq!(p.flags, FLAG_NO_NEGATIVE);
        assert_eq!(p.balance.0, *sum, "pool of fund {fund}");
    }
    assert_eq!(public.accounts().count(), clear + pools.len());
    assert_eq!(public.total(), 0);
    assert_eq!(full.total(), 0);
}

pub(crate) fn leg(debit: AccountRef, credit: AccountRef, cents: i64) -> Leg {
    Leg {
        debit,
        credit,
        amount: Cents(cents),
    }
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
            vouchers: HashSet::new(),
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

    /// How the writer names `id`: a known voucher as an unsealed voucher reference (a fresh
    /// commitment once sealed), anything else in the clear.
    pub fn r(&self, id: Uuid) -> AccountRef {
        match self.state.account(&id) {
            Some(a) if a.kind == AccountKind::Voucher => AccountRef::Voucher(id),
            None if self.vouchers.contains(&id) => AccountRef::Voucher(id),
            _ => AccountRef::Clear(id),
        }
    }

    /// Names a voucher that its first issue will open (no entry: an issue opens it).
    pub fn voucher(&mut self, id: Uuid) {
        self.vouchers.insert(id);
    }

    /// The next entry, signed as it is (nothing sealed).
    pub fn signed(&self, body: Body) -> SignedEntry {
        Entry {
            index: self.state.size(),
            time_ms: self.time,
            id: Uuid::new_v4(),
            body,
        }
        .sign(&self.key, self.key_id)
        .unwrap()
    }

    /// The next entry with every voucher reference sealed into a fresh commitment, signed.
    pub fn entry(&self, mut body: Body) -> SignedEntry {
        body.seal().unwrap();
        self.signed(body)
    }

    /// Applies a signed entry; a refused entry must leave the state exactly as it was.
    pub fn push_signed(&mut self, e: SignedEntry) -> Result<u64, Rejection> {
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

    pub fn push(&mut self, body: Body) -> Result<u64, Rejection> {
        let e = self.entry(body);
        self.push_signed(e)
    }

    /// Id of the last entry written.
    pub fn last_id(&self) -> Uuid {
        self.entries.last().unwrap().entry.id
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
        let account = if kind == AccountKind::Voucher {
            AccountRef::Voucher(id)
        } else {
            AccountRef::Clear(id)
        };
        self.push(Body::OpenAccount {
            account,
            kind,
            flags,
            fund,
            party,
        })
    }

    pub fn set_status(&mut self, id: Uuid, status: AccountStatus) -> Result<u64, Rejection> {
        let account = self.r(id);
        self.push(Body::AccountState { account, status })
    }

    pub fn transfer(
        &mut self,
        kind: TransferKind,
        debit: Uuid,
        credit: Uuid,
        cents: i64,
    ) -> Result<u64, Rejection> {
        let l = leg(self.r(debit), self.r(credit), cents);
        self.transfer_legs(kind, Uuid::nil(), vec![l])
    }

    /// A transfer with the category its kind needs (sport) and no attachment.
    pub fn transfer_legs(
        &mut self,
        kind: TransferKind,
        reference: Uuid,
        legs: Vec<Leg>,
    ) -> Result<u64, Rejection> {
        let category = matches!(
            kind,
            TransferKind::Redeem | TransferKind::DirectPayment | TransferKind::Reverse
        )
        .then_some(Category::Sport);
        self.push(Body::Transfer {
            kind,
            category,
            reference,
            legs,
            attachment: Vec::new(),
        })
    }

    /// Reverses an earlier redemption or direct payment, crediting `credit`.
    pub fn reverse(
        &mut self,
        original: Uuid,
        provider: Uuid,
        credit: AccountRef,
        cents: i64,
    ) -> Result<u64, Rejection> {
        let l = leg(AccountRef::Clear(provider), credit, cents);
        self.transfer_legs(TransferKind::Reverse, original, vec![l])
    }

    /// Takes back `cents` of deposit `deposit` from `fund`.
    pub fn correct(&mut self, deposit: Uuid, fund: Uuid, cents: i64) -> Result<u64, Rejection> {
        let l = leg(
            AccountRef::Clear(fund),
            AccountRef::Clear(self.external),
            cents,
        );
        self.transfer_legs(TransferKind::DepositCorrection, deposit, vec![l])
    }

    /// Fund with a deposit, one issued voucher and one provider.
    pub fn world(&mut self, deposit: i64, issue: i64) -> (Uuid, Uuid, Uuid) {
        let fund = Uuid::new_v4();
        let voucher = Uuid::new_v4();
        let provider = Uuid::new_v4();
        self.open(fund, AccountKind::Fund, Uuid::nil(), Uuid::nil())
            .unwrap();
        self.voucher(voucher);
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

/// The accounts of [`rich_chain`].
#[allow(dead_code)]
pub(crate) struct Rich {
    pub funds: [Uuid; 2],
    /// Voucher 0 and the household voucher 2 in fund 0; voucher 1 (closed at the end) in fund 1.
    pub vouchers: [Uuid; 3],
    pub providers: [Uuid; 2],
}

/// A ledger with every kind of entry: two funds, a household voucher issued with two legs,
/// top-up, redemptions, a direct payment, reversals to a voucher and (after it closed) to its
/// fund, block and unblock, deposit corrections, expiry, closing and a payout.
pub(crate) fn rich_chain() -> (Chain, Rich) {
    let mut c = Chain::new();
    let (f0, v0, p0) = c.world(100_000, 25_000);
    let (f1, v1, p1) = c.world(50_000, 10_000);
    let house = Uuid::new_v4();
    c.voucher(house);
    let (a, b) = (c.r(house), c.r(house));
    c.transfer_legs(
        TransferKind::Issue,
        Uuid::nil(),
        vec![
            leg(AccountRef::Clear(f0), a, 5_000),
            leg(AccountRef::Clear(f0), b, 7_000),
        ],
    )
    .unwrap();
    c.transfer(TransferKind::TopUp, f0, v0, 1_000).unwrap();
    c.transfer(TransferKind::Redeem, v0, p0, 4_000).unwrap();
    let r0 = c.last_id();
    c.transfer(TransferKind::DirectPayment, house, p0, 2_000)
        .unwrap();
    let v0ref = c.r(v0);
    c.reverse(r0, p0, v0ref, 4_000).unwrap();
    c.transfer(TransferKind::Redeem, v1, p1, 3_000).unwrap();
    let r1 = c.last_id();
    c.set_status(v1, AccountStatus::Blocked).unwrap();
    c.set_status(v1, AccountStatus::Active).unwrap();
    let ext = c.external;
    c.transfer(TransferKind::Deposit, ext, f1, 20_000).unwrap();
    let dep = c.last_id();
    c.correct(dep, f1, 5_000).unwrap();
    c.correct(dep, f1, 5_000).unwrap();
    c.transfer(TransferKind::Expire, v1, f1, 7_000).unwrap();
    c.set_status(v1, AccountStatus::Closed).unwrap();
    c.reverse(r1, p1, AccountRef::Clear(f1), 3_000).unwrap();
    let bank = c.bank;
    c.transfer(TransferKind::Payout, p0, bank, 2_000).unwrap();
    (
        c,
        Rich {
            funds: [f0, f1],
            vouchers: [v0, v1, house],
            providers: [p0, p1],
        },
    )
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
    c.voucher(v2);
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
    c.voucher(v2);
    assert!(c.transfer(TransferKind::TopUp, fund, v2, 1).is_err());
}

#[test]
fn one_issue_may_fund_a_voucher_with_several_legs_a_later_one_may_not() {
    let mut c = Chain::new();
    let (fund, voucher, _) = c.world(100_000, 25_000);
    let house = Uuid::new_v4();
    c.voucher(house);
    let f = AccountRef::Clear(fund);
    let h = c.r(house);
    // One leg per child, each with its own (fresh) commitment of the same voucher.
    c.transfer_legs(
        TransferKind::Issue,
        Uuid::nil(),
        vec![leg(f, h, 5_000), leg(f, h, 7_000), leg(f, h, 1)],
    )
    .unwrap();
    assert_eq!(bal(&c, &house), 12_001);
    assert_eq!(bal(&c, &fund), 100_000 - 25_000 - 12_001);
    // The issue opened the voucher: a voucher of the fund, no entry before it.
    let opened = c.state.account(&house).unwrap();
    assert_eq!(
        (opened.kind, opened.fund, opened.flags, opened.opened_at),
        (
            AccountKind::Voucher,
            fund,
            FLAG_NO_NEGATIVE,
            c.state.size() - 1
        )
    );
    assert_eq!(c.state.history(&house), &[c.state.size() - 1]);
    let Body::Transfer { legs, .. } = &c.entries.last().unwrap().entry.body else {
        panic!("not a transfer")
    };
    let cs: HashSet<[u8; 32]> = legs.iter().filter_map(|l| l.credit.commitment()).collect();
    assert_eq!(cs.len(), 3, "every leg has its own commitment");
    // The voucher's history names that entry once.
    let last = c.state.size() - 1;
    assert_eq!(
        c.state
            .history(&house)
            .iter()
            .filter(|i| **i == last)
            .count(),
        1
    );
    // A later issue entry, with one leg or several, is refused.
    assert_eq!(
        c.transfer(TransferKind::Issue, fund, house, 1)
            .unwrap_err()
            .code(),
        "already_issued"
    );
    assert_eq!(
        c.transfer_legs(
            TransferKind::Issue,
            Uuid::nil(),
            vec![leg(f, h, 1), leg(f, h, 1)]
        )
        .unwrap_err()
        .code(),
        "already_issued"
    );
    // Nor may a new voucher share an issue entry with one issued before.
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    c.voucher(a);
    c.voucher(b);
    let (ra, rv) = (c.r(a), c.r(voucher));
    assert_eq!(
        c.transfer_legs(
            TransferKind::Issue,
            Uuid::nil(),
            vec![leg(f, ra, 1), leg(f, rv, 1)]
        )
        .unwrap_err()
        .code(),
        "already_issued"
    );
    // Two new vouchers in one entry are fine; then a top-up.
    let rb = c.r(b);
    c.transfer_legs(
        TransferKind::Issue,
        Uuid::nil(),
        vec![leg(f, ra, 100), leg(f, rb, 200)],
    )
    .unwrap();
    assert_eq!((bal(&c, &a), bal(&c, &b)), (100, 200));
    c.transfer(TransferKind::TopUp, fund, house, 999).unwrap();
    assert_eq!(bal(&c, &house), 13_000);
    // The legs of one issue together may not take more than the fund has.
    let left = bal(&c, &fund);
    let n = Uuid::new_v4();
    c.voucher(n);
    let rn = c.r(n);
    assert_eq!(
        c.transfer_legs(
            TransferKind::Issue,
            Uuid::nil(),
            vec![leg(f, rn, left), leg(f, rn, 1)]
        )
        .unwrap_err()
        .code(),
        "insufficient_balance"
    );
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
    // A commitment that opens to an unknown account: only an issue opens it.
    let (ghost, _) = committed(Uuid::new_v4(), 1);
    let (ghost2, _) = committed(Uuid::new_v4(), 2);
    for (kind, l) in [
        (TransferKind::TopUp, leg(AccountRef::Clear(fund), ghost, 1)),
        (
            TransferKind::Redeem,
            leg(ghost2, AccountRef::Clear(provider), 1),
        ),
    ] {
        assert_eq!(
            c.transfer_legs(kind, Uuid::nil(), vec![l])
                .unwrap_err()
                .code(),
            "unknown_account",
            "{kind}"
        );
    }
    // An issue cannot open a voucher under the nil id or a fund's pool id, nor take an
    // existing account of another kind, nor open one from anything but a fund.
    for bad in [Uuid::nil(), pool_id(&fund)] {
        let (r, _) = committed(bad, 3);
        assert_eq!(
            c.transfer_legs(
                TransferKind::Issue,
                Uuid::nil(),
                vec![leg(AccountRef::Clear(fund), r, 1)]
            )
            .unwrap_err()
            .code(),
            "invalid_account"
        );
    }
    let (as_fund, _) = committed(fund, 4);
    assert_eq!(
        c.transfer_legs(
            TransferKind::Issue,
            Uuid::nil(),
            vec![leg(AccountRef::Clear(fund), as_fund, 1)]
        )
        .unwrap_err()
        .code(),
        "invalid_account"
    );
    let (fresh, _) = committed(Uuid::new_v4(), 5);
    assert_eq!(
        c.transfer_legs(
            TransferKind::Issue,
            Uuid::nil(),
            vec![leg(AccountRef::Clear(provider), fresh, 1)]
        )
        .unwrap_err()
        .code(),
        "invalid_transfer"
    );
    // Nor may an issue name its voucher in the clear, new or a fund's pool id.
    for id in [Uuid::new_v4(), pool_id(&fund)] {
        assert_eq!(
            c.transfer_legs(
                TransferKind::Issue,
                Uuid::nil(),
                vec![leg(AccountRef::Clear(fund), AccountRef::Clear(id), 1)]
            )
            .unwrap_err()
            .code(),
            "invalid_account"
        );
        assert!(c.state.account(&id).is_none());
    }
    // And open_account never opens a voucher.
    for account in [
        AccountRef::Voucher(Uuid::new_v4()),
        AccountRef::Clear(Uuid::new_v4()),
    ] {
        assert_eq!(
            c.push(Body::OpenAccount {
                account,
                kind: AccountKind::Voucher,
                flags: FLAG_NO_NEGATIVE,
                fund,
                party: Uuid::nil(),
            })
            .unwrap_err()
            .code(),
            "invalid_account"
        );
    }
    // Only a reversal and a deposit correction name another entry.
    assert_eq!(
        c.transfer(TransferKind::DepositCorrection, fund, ext, 1)
            .unwrap_err()
            .code(),
        "invalid_transfer"
    );
    let l = leg(AccountRef::Clear(ext), AccountRef::Clear(fund), 1);
    assert_eq!(
        c.transfer_legs(TransferKind::Deposit, Uuid::new_v4(), vec![l])
            .unwrap_err()
            .code(),
        "invalid_transfer"
    );
}

#[test]
fn only_a_payout_carries_an_attachment_and_only_spending_a_category() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    let redeem = |c: &mut Chain, category, attachment: Vec<u8>| {
        let l = leg(c.r(voucher), AccountRef::Clear(provider), 100);
        c.push(Body::Transfer {
            kind: TransferKind::Redeem,
            category,
            reference: Uuid::nil(),
            legs: vec![l],
            attachment,
        })
    };
    // A redemption carries nothing of the token.
    assert_eq!(
        redeem(&mut c, Some(Category::Sport), vec![1])
            .unwrap_err()
            .code(),
        "invalid_transfer"
    );
    assert_eq!(
        redeem(&mut c, None, Vec::new()).unwrap_err().code(),
        "invalid_transfer"
    );
    // Any category will do on the ledger: the writer checked the token.
    redeem(&mut c, Some(Category::School), Vec::new()).unwrap();
    redeem(&mut c, Some(Category::Cultuur), Vec::new()).unwrap();
    let issue_with_category = c.push(Body::Transfer {
        kind: TransferKind::TopUp,
        category: Some(Category::Sport),
        reference: Uuid::nil(),
        legs: vec![leg(AccountRef::Clear(fund), c.r(voucher), 1)],
        attachment: Vec::new(),
    });
    assert_eq!(issue_with_category.unwrap_err().code(), "invalid_transfer");
    let bank = c.bank;
    let payout = |c: &mut Chain, n: usize| {
        c.push(Body::Transfer {
            kind: TransferKind::Payout,
            category: None,
            reference: Uuid::nil(),
            legs: vec![Leg::clear(provider, bank, Cents(1))],
            attachment: vec![b'x'; n],
        })
    };
    assert_eq!(payout(&mut c, 65).unwrap_err().code(), "invalid_transfer");
    payout(&mut c, 64).unwrap();
    payout(&mut c, 0).unwrap();
    // One leg only for a redemption.
    let l = leg(c.r(voucher), AccountRef::Clear(provider), 1);
    let l2 = leg(c.r(voucher), AccountRef::Clear(provider), 1);
    assert_eq!(
        c.transfer_legs(TransferKind::Redeem, Uuid::nil(), vec![l, l2])
            .unwrap_err()
            .code(),
        "invalid_transfer"
    );
}

#[test]
fn blocked_vouchers_cannot_be_spent_until_unblocked_and_closed_accounts_never_change() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    c.set_status(voucher, AccountStatus::Blocked).unwrap();
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
    // Reissue: active again, under a fresh commitment like every appearance.
    c.set_status(voucher, AccountStatus::Active).unwrap();
    c.transfer(TransferKind::Redeem, voucher, provider, 100)
        .unwrap();
    assert_eq!(
        bal(&c, &voucher),
        24_900,
        "blocking and reissuing keep the balance"
    );
    // A blocked provider takes no payments.
    c.set_status(provider, AccountStatus::Blocked).unwrap();
    assert_eq!(
        c.transfer(TransferKind::Redeem, voucher, provider, 100)
            .unwrap_err()
            .code(),
        "invalid_transfer"
    );
    c.set_status(provider, AccountStatus::Active).unwrap();
    // Only vouchers and providers change state.
    assert_eq!(
        c.set_status(fund, AccountStatus::Blocked)
            .unwrap_err()
            .code(),
        "invalid_account"
    );
    // Only an empty account closes; a closed one never changes and takes nothing.
    assert_eq!(
        c.set_status(voucher, AccountStatus::Closed)
            .unwrap_err()
            .code(),
        "invalid_account"
    );
    c.transfer(TransferKind::Expire, voucher, fund, 24_900)
        .unwrap();
    c.set_status(voucher, AccountStatus::Closed).unwrap();
    assert_eq!(
        c.set_status(voucher, AccountStatus::Active)
            .unwrap_err()
            .code(),
        "account_closed"
    );
    assert_eq!(
        c.transfer(TransferKind::TopUp, fund, voucher, 1)
            .unwrap_err()
            .code(),
        "account_closed"
    );
    let unknown = Uuid::new_v4();
    assert_eq!(
        c.push(Body::AccountState {
            account: AccountRef::Voucher(unknown),
            status: AccountStatus::Blocked,
        })
        .unwrap_err()
        .code(),
        "unknown_account"
    );
}

#[test]
fn a_redemption_is_reversed_exactly_once_by_its_mirror() {
    let mut c = Chain::new();
    let (_, voucher, provider) = c.world(100_000, 25_000);
    c.transfer(TransferKind::Redeem, voucher, provider, 7_000)
        .unwrap();
    let orig = c.last_id();
    let v = c.r(voucher);
    assert_eq!(
        c.reverse(orig, provider, v, 6_999).unwrap_err().code(),
        "invalid_transfer"
    );
    // The voucher may not be named in the clear, not even in a reversal.
    assert_eq!(
        c.reverse(orig, provider, AccountRef::Clear(voucher), 7_000)
            .unwrap_err()
            .code(),
        "invalid_account"
    );
    // Another voucher of the same fund is not the mirror.
    let other = Uuid::new_v4();
    let fund = c.state.account(&voucher).unwrap().fund;
    c.voucher(other);
    c.transfer(TransferKind::Issue, fund, other, 1).unwrap();
    let o = c.r(other);
    assert_eq!(
        c.reverse(orig, provider, o, 7_000).unwrap_err().code(),
        "invalid_transfer"
    );
    let wrong_category = c.push(Body::Transfer {
        kind: TransferKind::Reverse,
        category: Some(Category::Cultuur),
        reference: orig,
        legs: vec![leg(AccountRef::Clear(provider), v, 7_000)],
        attachment: Vec::new(),
    });
    assert_eq!(wrong_category.unwrap_err().code(), "invalid_transfer");
    assert_eq!(
        c.reverse(Uuid::new_v4(), provider, v, 7_000)
            .unwrap_err()
            .code(),
        "unknown_redemption"
    );
    c.reverse(orig, provider, v, 7_000).unwrap();
    assert_eq!(bal(&c, &voucher), 25_000);
    assert_eq!(
        c.reverse(orig, provider, v, 7_000).unwrap_err().code(),
        "already_reversed"
    );
}

#[test]
fn a_reversal_goes_to_the_fund_only_once_the_voucher_is_closed() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    c.transfer(TransferKind::Redeem, voucher, provider, 7_000)
        .unwrap();
    let orig = c.last_id();
    let v = c.r(voucher);
    let f = AccountRef::Clear(fund);
    // While the voucher is open, the money must go back to it.
    assert_eq!(
        c.reverse(orig, provider, f, 7_000).unwrap_err().code(),
        "invalid_transfer"
    );
    // The fund expires: the voucher's rest goes to the fund and the voucher is closed.
    c.transfer(TransferKind::Expire, voucher, fund, 18_000)
        .unwrap();
    c.set_status(voucher, AccountStatus::Closed).unwrap();
    assert_eq!(
        c.reverse(orig, provider, v, 7_000).unwrap_err().code(),
        "invalid_transfer"
    );
    // The fund in the clear, never under a commitment.
    let (vf, _) = committed(fund, 3);
    assert_eq!(
        c.reverse(orig, provider, vf, 7_000).unwrap_err().code(),
        "invalid_account"
    );
    let fund_before = bal(&c, &fund);
    c.reverse(orig, provider, f, 7_000).unwrap();
    assert_eq!(bal(&c, &fund), fund_before + 7_000);
    assert_eq!(bal(&c, &voucher), 0);
    assert_eq!(bal(&c, &provider), 0);
    assert_eq!(
        c.reverse(orig, provider, f, 7_000).unwrap_err().code(),
        "already_reversed"
    );
    assert_eq!(c.state.total(), 0);
}

#[test]
fn a_paid_out_redemption_cannot_be_reversed_from_an_empty_provider() {
    let mut c = Chain::new();
    let (_, voucher, provider) = c.world(100_000, 25_000);
    c.transfer(TransferKind::Redeem, voucher, provider, 7_000)
        .unwrap();
    let orig = c.last_id();
    let bank = c.bank;
    c.transfer(TransferKind::Payout, provider, bank, 7_000)
        .unwrap();
    let v = c.r(voucher);
    let r = c.reverse(orig, provider, v, 7_000);
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
        account: AccountRef::Clear(c.bank),
        status: AccountStatus::Active,
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
    let bank = |c: &Chain| {
        c.entry(Body::OpenAccount {
            account: AccountRef::Clear(Uuid::new_v4()),
            kind: AccountKind::Bank,
            flags: FLAG_NO_NEGATIVE,
            fund: Uuid::nil(),
            party: Uuid::nil(),
        })
    };
    let mut e = bank(&c);
    e.entry.time_ms = 0;
    assert_eq!(c.state.apply(&e).unwrap_err(), Rejection::TimeWentBack);
    let mut e = bank(&c);
    e.entry.id = c.entries[0].entry.id;
    assert!(matches!(c.state.apply(&e), Err(Rejection::DuplicateId(_))));
    let mut e = bank(&c);
    e.key_id = [0; 4];
    assert_eq!(c.state.apply(&e).unwrap_err(), Rejection::Signer);
    // Only external accounts may go negative.
    let r = c.push(Body::OpenAccount {
        account: AccountRef::Clear(Uuid::new_v4()),
        kind: AccountKind::Fund,
        flags: 0,
        fund: Uuid::nil(),
        party: Uuid::nil(),
    });
    assert_eq!(r.unwrap_err().code(), "invalid_account");
    // A voucher may not go negative either, and belongs to a fund.
    let r = c.push(Body::OpenAccount {
        account: AccountRef::Voucher(Uuid::new_v4()),
        kind: AccountKind::Voucher,
        flags: 0,
        fund: Uuid::nil(),
        party: Uuid::nil(),
    });
    assert_eq!(r.unwrap_err().code(), "invalid_account");
    let r = c.push(Body::OpenAccount {
        account: AccountRef::Voucher(Uuid::new_v4()),
        kind: AccountKind::Voucher,
        flags: FLAG_NO_NEGATIVE,
        fund: c.bank,
        party: Uuid::nil(),
    });
    assert_eq!(r.unwrap_err().code(), "invalid_account");
    let b = c.bank;
    assert_eq!(
        c.open(b, AccountKind::Bank, Uuid::nil(), Uuid::nil())
            .unwrap_err()
            .code(),
        "account_exists"
    );
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
            account: AccountRef::Clear(Uuid::new_v4()),
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
        legs: vec![leg(c.r(voucher), AccountRef::Clear(provider), 1_000)],
        attachment: Vec::new(),
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
    // The same entry applies again: its commitment was given back too.
    let undo = c.state.apply(&e).unwrap();
    c.state.undo(undo);
    assert_eq!(c.state, before);
    // An issue that opens a voucher is taken back with the account and its history.
    let new = Uuid::new_v4();
    let e = c.entry(Body::Transfer {
        kind: TransferKind::Issue,
        category: None,
        reference: Uuid::nil(),
        legs: vec![
            leg(AccountRef::Clear(fund), AccountRef::Voucher(new), 1),
            leg(AccountRef::Clear(fund), AccountRef::Voucher(new), 2),
        ],
        attachment: Vec::new(),
    });
    let undo = c.state.apply(&e).unwrap();
    assert_eq!(c.state.account(&new).map(|a| a.balance.0), Some(3));
    assert_eq!(c.state.history(&new), &[e.entry.index]);
    c.state.undo(undo);
    assert_eq!(c.state, before);
    assert!(c.state.account(&new).is_none() && c.state.history(&new).is_empty());
}

#[test]
fn undo_takes_back_every_kind_of_entry_in_full_and_public_replays() {
    let (c, _) = rich_chain();
    for public in [false, true] {
        let mut s = if public {
            LedgerState::public()
        } else {
            LedgerState::new()
        };
        for e in &c.entries {
            let e = if public { public_copy(e) } else { e.clone() };
            let before = s.clone();
            let undo = s.apply(&e).unwrap();
            let after = s.clone();
            s.undo(undo);
            assert_eq!(
                s, before,
                "undo of entry {} (public: {public})",
                e.entry.index
            );
            let _ = s.apply(&e).unwrap();
            assert_eq!(
                s, after,
                "redo of entry {} (public: {public})",
                e.entry.index
            );
        }
        if !public {
            assert_eq!(s, c.state);
        }
    }
}

#[test]
fn voucher_accounts_are_named_only_by_commitments_and_others_only_in_the_clear() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    let ext = c.external;
    let cases: Vec<(&str, Body)> = vec![
        (
            "clear ref to a voucher (debit)",
            Body::Transfer {
                kind: TransferKind::Redeem,
                category: Some(Category::Sport),
                reference: Uuid::nil(),
                legs: vec![Leg::clear(voucher, provider, Cents(1))],
                attachment: Vec::new(),
            },
        ),
        (
            "clear ref to a voucher (credit)",
            Body::Transfer {
                kind: TransferKind::TopUp,
                category: None,
                reference: Uuid::nil(),
                legs: vec![Leg::clear(fund, voucher, Cents(1))],
                attachment: Vec::new(),
            },
        ),
        (
            "committed ref to a fund",
            Body::Transfer {
                kind: TransferKind::TopUp,
                category: None,
                reference: Uuid::nil(),
                legs: vec![leg(
                    AccountRef::Voucher(fund),
                    AccountRef::Voucher(voucher),
                    1,
                )],
                attachment: Vec::new(),
            },
        ),
        (
            "committed ref to a provider",
            Body::Transfer {
                kind: TransferKind::Redeem,
                category: Some(Category::Sport),
                reference: Uuid::nil(),
                legs: vec![leg(
                    AccountRef::Voucher(voucher),
                    AccountRef::Voucher(provider),
                    1,
                )],
                attachment: Vec::new(),
            },
        ),
        (
            "committed ref to the external account",
            Body::Transfer {
                kind: TransferKind::Deposit,
                category: None,
                reference: Uuid::nil(),
                legs: vec![leg(AccountRef::Voucher(ext), AccountRef::Clear(fund), 1)],
                attachment: Vec::new(),
            },
        ),
        (
            "open a voucher in the clear",
            Body::OpenAccount {
                account: AccountRef::Clear(Uuid::new_v4()),
                kind: AccountKind::Voucher,
                flags: FLAG_NO_NEGATIVE,
                fund,
                party: Uuid::nil(),
            },
        ),
        (
            "open a fund under a commitment",
            Body::OpenAccount {
                account: AccountRef::Voucher(Uuid::new_v4()),
                kind: AccountKind::Fund,
                flags: FLAG_NO_NEGATIVE,
                fund: Uuid::nil(),
                party: Uuid::nil(),
            },
        ),
        (
            "open a provider under a commitment",
            Body::OpenAccount {
                account: AccountRef::Voucher(Uuid::new_v4()),
                kind: AccountKind::Provider,
                flags: FLAG_NO_NEGATIVE,
                fund,
                party: Uuid::new_v4(),
            },
        ),
        (
            "block a voucher named in the clear",
            Body::AccountState {
                account: AccountRef::Clear(voucher),
                status: AccountStatus::Blocked,
            },
        ),
        (
            "block a provider under a commitment",
            Body::AccountState {
                account: AccountRef::Voucher(provider),
                status: AccountStatus::Blocked,
            },
        ),
    ];
    for (what, body) in cases {
        let r = c.push(body).unwrap_err();
        assert_eq!(r.code(), "invalid_account", "{what}: {r}");
    }
    // The same voucher, properly committed, is fine.
    c.transfer(TransferKind::Redeem, voucher, provider, 1)
        .unwrap();
    c.set_status(voucher, AccountStatus::Blocked).unwrap();
}

#[test]
fn every_commitment_needs_the_opening_that_hashes_to_it() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    let redeem = |debit: AccountRef| Body::Transfer {
        kind: TransferKind::Redeem,
        category: Some(Category::Sport),
        reference: Uuid::nil(),
        legs: vec![leg(debit, AccountRef::Clear(provider), 100)],
        attachment: Vec::new(),
    };
    let (good, o) = committed(voucher, 7);
    let no_opening = unopened(&good);
    let wrong_salt = AccountRef::Committed {
        commitment: o.commitment(),
        opening: Some(Opening {
            salt: [8; 16],
            account: voucher,
        }),
    };
    let other = Uuid::new_v4();
    c.voucher(other);
    let wrong_account = AccountRef::Committed {
        commitment: o.commitment(),
        opening: Some(Opening {
            salt: o.salt,
            account: other,
        }),
    };
    for (what, r) in [
        ("no opening", no_opening),
        ("wrong salt", wrong_salt),
        ("opening of another voucher", wrong_account),
    ] {
        let e = c.signed(redeem(r));
        assert_eq!(
            c.push_signed(e).unwrap_err().code(),
            "bad_opening",
            "{what}"
        );
        let e = c.signed(Body::AccountState {
            account: r,
            status: AccountStatus::Blocked,
        });
        assert_eq!(
            c.push_signed(e).unwrap_err().code(),
            "bad_opening",
            "{what} (state)"
        );
    }
    // Opening an account under a commitment without its opening.
    let (fresh, _) = committed(Uuid::new_v4(), 1);
    let e = c.signed(Body::OpenAccount {
        account: unopened(&fresh),
        kind: AccountKind::Voucher,
        flags: FLAG_NO_NEGATIVE,
        fund,
        party: Uuid::nil(),
    });
    assert_eq!(c.push_signed(e).unwrap_err().code(), "bad_opening");
    // One good and one bad commitment in one entry: the entry is refused as a whole.
    let (v2, _) = committed(other, 2);
    let e = c.signed(Body::Transfer {
        kind: TransferKind::Issue,
        category: None,
        reference: Uuid::nil(),
        legs: vec![
            leg(AccountRef::Clear(fund), v2, 100),
            leg(AccountRef::Clear(fund), no_opening, 100),
        ],
        attachment: Vec::new(),
    });
    assert_eq!(c.push_signed(e).unwrap_err().code(), "bad_opening");
    // An unsealed voucher reference cannot be signed; applied anyway, it is refused.
    let body = redeem(AccountRef::Voucher(voucher));
    let unsealed = SignedEntry {
        entry: Entry {
            index: c.state.size(),
            time_ms: c.time,
            id: Uuid::new_v4(),
            body: body.clone(),
        },
        key_id: c.key_id,
        signature: [0; 64],
    };
    assert!(c.entry(body).entry.content().is_ok(), "sealed, it encodes");
    assert_eq!(c.push_signed(unsealed).unwrap_err().code(), "bad_opening");
    // With the right opening it is fine.
    c.push_signed(c.signed(redeem(good))).unwrap();
    assert_eq!(bal(&c, &voucher), 24_900);
}

#[test]
fn a_commitment_appears_once_on_the_ledger() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    let house = Uuid::new_v4();
    let (h1, _) = committed(house, 1);
    let f = AccountRef::Clear(fund);
    c.transfer_legs(TransferKind::Issue, Uuid::nil(), vec![leg(f, h1, 100)])
        .unwrap();
    let (h2, _) = committed(house, 2);
    // Twice in one entry.
    assert_eq!(
        c.transfer_legs(
            TransferKind::Issue,
            Uuid::nil(),
            vec![leg(f, h2, 100), leg(f, h2, 100)]
        )
        .unwrap_err()
        .code(),
        "duplicate_commitment"
    );
    // Again in a later entry (the one the account was issued, so opened, under).
    assert_eq!(
        c.transfer_legs(TransferKind::TopUp, Uuid::nil(), vec![leg(f, h1, 100)])
            .unwrap_err()
            .code(),
        "duplicate_commitment"
    );
    // In a state change too; and the same commitment seen by a public replay.
    let e = c.signed(Body::AccountState {
        account: h1,
        status: AccountStatus::Blocked,
    });
    assert_eq!(
        c.push_signed(e.clone()).unwrap_err().code(),
        "duplicate_commitment"
    );
    let mut public = replay_public(&c.entries);
    assert_eq!(
        public.apply(&public_copy(&e)).unwrap_err().code(),
        "duplicate_commitment"
    );
    // A commitment used by an applied-and-undone entry is free again.
    let before = c.state.clone();
    let e = c.signed(Body::Transfer {
        kind: TransferKind::TopUp,
        category: None,
        reference: Uuid::nil(),
        legs: vec![leg(f, h2, 100)],
        attachment: Vec::new(),
    });
    let undo = c.state.apply(&e).unwrap();
    assert_eq!(
        c.state
            .apply(&c.signed(Body::Transfer {
                kind: TransferKind::TopUp,
                category: None,
                reference: Uuid::nil(),
                legs: vec![leg(f, h2, 1)],
                attachment: Vec::new(),
            }))
            .unwrap_err()
            .code(),
        "duplicate_commitment"
    );
    c.state.undo(undo);
    assert_eq!(c.state, before);
    c.push_signed(e).unwrap();
    assert_eq!(bal(&c, &house), 200);
    // Fresh commitments of the same voucher are all different.
    c.transfer(TransferKind::Redeem, voucher, provider, 1)
        .unwrap();
    c.transfer(TransferKind::Redeem, voucher, provider, 1)
        .unwrap();
    let all: Vec<[u8; 32]> = c
        .entries
        .iter()
        .flat_map(|e| {
            e.entry
                .body
                .refs()
                .into_iter()
                .filter_map(|r| r.commitment())
        })
        .collect();
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), unique.len());
}

#[test]
fn a_deposit_correction_takes_back_at_most_what_that_deposit_brought_into_that_fund() {
    let mut c = Chain::new();
    let ext = c.external;
    let (fund, fund2) = (Uuid::new_v4(), Uuid::new_v4());
    c.open(fund, AccountKind::Fund, Uuid::nil(), Uuid::nil())
        .unwrap();
    c.open(fund2, AccountKind::Fund, Uuid::nil(), Uuid::nil())
        .unwrap();
    c.transfer(TransferKind::Deposit, ext, fund, 60_000)
        .unwrap();
    let dep1 = c.last_id();
    c.transfer(TransferKind::Deposit, ext, fund, 40_000)
        .unwrap();
    let dep2 = c.last_id();
    c.transfer(TransferKind::Deposit, ext, fund2, 10_000)
        .unwrap();
    let dep3 = c.last_id();
    let voucher = Uuid::new_v4();
    c.voucher(voucher);
    c.transfer(TransferKind::Issue, fund, voucher, 30_000)
        .unwrap();
    let issue = c.last_id();
    assert_eq!(bal(&c, &fund), 70_000);

    c.correct(dep1, fund, 20_000).unwrap();
    assert_eq!(bal(&c, &fund), 50_000);
    assert_eq!(bal(&c, &ext), -90_000);
    // Cumulative: 20 000 + 40 001 > 60 000.
    assert_eq!(
        c.correct(dep1, fund, 40_001).unwrap_err().code(),
        "correction_too_large"
    );
    c.correct(dep1, fund, 40_000).unwrap();
    assert_eq!(
        c.correct(dep1, fund, 1).unwrap_err().code(),
        "correction_too_large"
    );
    // Deposit 2 allows 40 000 but the fund holds only 10 000: the fund may not go negative.
    assert_eq!(bal(&c, &fund), 10_000);
    assert_eq!(
        c.correct(dep2, fund, 10_001).unwrap_err().code(),
        "insufficient_balance"
    );
    c.correct(dep2, fund, 10_000).unwrap();
    assert_eq!(bal(&c, &fund), 0);
    // No such deposit, not a deposit, or not into that fund.
    for (what, dep, f) in [
        ("unknown id", Uuid::new_v4(), fund),
        ("an issue, not a deposit", issue, fund),
        ("deposit into the other fund", dep3, fund),
        ("other fund", dep1, fund2),
    ] {
        assert_eq!(
            c.correct(dep, f, 1).unwrap_err().code(),
            "unknown_deposit",
            "{what}"
        );
    }
    // The right fund: fine.
    c.correct(dep3, fund2, 10_000).unwrap();
    assert_eq!(bal(&c, &fund2), 0);
    assert_eq!(bal(&c, &ext), -30_000);
    assert_eq!(c.state.total(), 0);
}

#[test]
fn deposit_corrections_follow_their_path_count_per_fund_and_undo_exactly() {
    let mut c = Chain::new();
    let ext = c.external;
    let bank = c.bank;
    let (fund, fund2) = (Uuid::new_v4(), Uuid::new_v4());
    c.open(fund, AccountKind::Fund, Uuid::nil(), Uuid::nil())
        .unwrap();
    c.open(fund2, AccountKind::Fund, Uuid::nil(), Uuid::nil())
        .unwrap();
    // One deposit into two funds: each fund's part is corrected on its own.
    c.transfer_legs(
        TransferKind::Deposit,
        Uuid::nil(),
        vec![
            Leg::clear(ext, fund, Cents(1_000)),
            Leg::clear(ext, fund2, Cents(20_000)),
            Leg::clear(ext, fund, Cents(500)),
        ],
    )
    .unwrap();
    let dep = c.last_id();
    assert_eq!(
        c.correct(dep, fund, 1_501).unwrap_err().code(),
        "correction_too_large"
    );
    c.correct(dep, fund, 1_500).unwrap();
    c.correct(dep, fund2, 5_000).unwrap();
    // Shape: one leg, no category, no attachment, fund → external.
    let shaped = |c: &mut Chain, category, legs: Vec<Leg>, attachment: Vec<u8>| {
        c.push(Body::Transfer {
            kind: TransferKind::DepositCorrection,
            category,
            reference: dep,
            legs,
            attachment,
        })
    };
    let one = Leg::clear(fund2, ext, Cents(1));
    for (what, r) in [
        ("two legs", shaped(&mut c, None, vec![one, one], Vec::new())),
        (
            "category",
            shaped(&mut c, Some(Category::Sport), vec![one], Vec::new()),
        ),
        ("attachment", shaped(&mut c, None, vec![one], vec![1])),
    ] {
        assert_eq!(r.unwrap_err().code(), "invalid_transfer", "{what}");
    }
    assert!(
        shaped(
            &mut c,
            None,
            vec![Leg::clear(fund2, bank, Cents(1))],
            Vec::new()
        )
        .is_err()
    );
    assert!(
        shaped(
            &mut c,
            None,
            vec![Leg::clear(ext, fund2, Cents(1))],
            Vec::new()
        )
        .is_err()
    );
    // Undo restores the corrected total, whether it was zero or not.
    let before = c.state.clone();
    let e = c.entry(Body::Transfer {
        kind: TransferKind::DepositCorrection,
        category: None,
        reference: dep,
        legs: vec![Leg::clear(fund2, ext, Cents(15_000))],
        attachment: Vec::new(),
    });
    let undo = c.state.apply(&e).unwrap();
    assert_eq!(bal(&c, &fund2), 0);
    c.state.undo(undo);
    assert_eq!(c.state, before);
    assert_eq!(bal(&c, &fund2), 15_000);
    c.correct(dep, fund2, 4_000).unwrap();
    c.correct(dep, fund2, 11_001).unwrap_err();
    // The undone 15 000 did not count: 5 000 + 4 000 + 11 000 = 20 000.
    c.correct(dep, fund2, 11_000).unwrap();
    assert_eq!(bal(&c, &fund2), 0);
    // Money goes back to the external account it came from, at most what came from it.
    let ext2 = Uuid::new_v4();
    c.open(ext2, AccountKind::External, Uuid::nil(), Uuid::nil())
        .unwrap();
    c.transfer_legs(
        TransferKind::Deposit,
        Uuid::nil(),
        vec![
            Leg::clear(ext, fund, Cents(100)),
            Leg::clear(ext2, fund, Cents(200)),
        ],
    )
    .unwrap();
    let two = c.last_id();
    let back = |c: &mut Chain, to: Uuid, cents: i64| {
        c.transfer_legs(
            TransferKind::DepositCorrection,
            two,
            vec![Leg::clear(fund, to, Cents(cents))],
        )
    };
    assert_eq!(
        back(&mut c, ext, 101).unwrap_err().code(),
        "correction_too_large"
    );
    back(&mut c, ext, 100).unwrap();
    back(&mut c, ext2, 200).unwrap();
    assert_eq!(
        back(&mut c, ext, 1).unwrap_err().code(),
        "correction_too_large"
    );
    assert_eq!(
        back(&mut c, ext2, 1).unwrap_err().code(),
        "correction_too_large"
    );
    assert_eq!(
        back(&mut c, bank, 1).unwrap_err().code(),
        "unknown_deposit",
        "not to an account the deposit came from"
    );
    assert_eq!(bal(&c, &ext2), 0);
    // Undoing the deposit itself takes its corrections' basis away.
    let mut c2 = Chain::new();
    c2.state = LedgerState::new();
    let mut undo_dep = None;
    for e in &c.entries {
        let u = c2.state.apply(e).unwrap();
        if e.entry.id == dep {
            undo_dep = Some(u);
            break;
        }
    }
    c2.state.undo(undo_dep.unwrap());
    c2.time = c.time;
    assert_eq!(
        c2.correct(dep, fund, 1).unwrap_err().code(),
        "unknown_deposit"
    );
}

#[test]
fn a_public_replay_pools_each_funds_vouchers_and_matches_the_full_replay() {
    let (c, rich) = rich_chain();
    let public = replay_public(&c.entries);
    assert_public_matches(&c.state, &public);
    // The numbers, spelled out.
    let [f0, f1] = rich.funds;
    let [v0, v1, house] = rich.vouchers;
    let sum0 = bal(&c, &v0) + bal(&c, &house);
    assert_eq!(sum0, 25_000 + 1_000 + 12_000 - 2_000);
    assert_eq!(public.account(&pool_id(&f0)).unwrap().balance.0, sum0);
    assert_eq!(bal(&c, &v1), 0);
    assert_eq!(public.account(&pool_id(&f1)).unwrap().balance.0, 0);
    assert_eq!(c.state.account(&v1).unwrap().status, AccountStatus::Closed);
    assert_eq!(
        public.account(&f1).unwrap().balance.0,
        50_000 - 10_000 + 20_000 - 10_000 + 7_000 + 3_000
    );
    // No voucher account appears, only the pools, which no real account id can be.
    for v in rich.vouchers {
        assert!(public.account(&v).is_none());
    }
    assert_ne!(pool_id(&f0), pool_id(&f1));
    assert_ne!(pool_id(&f0), f0);
    // The full replay is the chain's own state.
    let mut full = LedgerState::new();
    for e in &c.entries {
        let _ = full.apply(e).unwrap();
    }
    assert_eq!(full, c.state);
    // A full replay of the public bytes is impossible: the openings are missing.
    let mut full = LedgerState::new();
    let mut refused = None;
    for e in &c.entries {
        if let Err(r) = full.apply(&public_copy(e)) {
            refused = Some(r);
            break;
        }
    }
    assert_eq!(refused.unwrap().code(), "bad_opening");
}

#[test]
fn a_public_replay_refuses_a_pool_going_negative_and_checks_what_it_can() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    let v2 = Uuid::new_v4();
    c.voucher(v2);
    c.transfer(TransferKind::Issue, fund, v2, 10_000).unwrap();
    c.transfer(TransferKind::Redeem, voucher, provider, 5_000)
        .unwrap();
    let mut public = replay_public(&c.entries);
    assert_public_matches(&c.state, &public);
    let pool = pool_id(&fund);
    assert_eq!(public.account(&pool).unwrap().balance.0, 30_000);
    let spend = |c: &Chain, v: Uuid, cents: i64| {
        public_copy(&c.entry(Body::Transfer {
            kind: TransferKind::Redeem,
            category: Some(Category::Sport),
            reference: Uuid::nil(),
            legs: vec![leg(
                AccountRef::Voucher(v),
                AccountRef::Clear(provider),
                cents,
            )],
            attachment: Vec::new(),
        }))
    };
    let before = public.clone();
    assert_eq!(
        public.apply(&spend(&c, voucher, 30_001)).unwrap_err(),
        Rejection::InsufficientBalance {
            account: pool,
            balance: Cents(30_000)
        }
    );
    assert_eq!(public, before);
    // The limit of the public audit: it cannot tell one voucher of a fund from another, so it
    // takes 25 000 from a voucher that (as the full replay knows) holds 20 000.
    assert_eq!(
        c.state
            .clone()
            .apply(&c.entry(Body::Transfer {
                kind: TransferKind::Redeem,
                category: Some(Category::Sport),
                reference: Uuid::nil(),
                legs: vec![leg(
                    AccountRef::Voucher(voucher),
                    AccountRef::Clear(provider),
                    25_000
                )],
                attachment: Vec::new(),
            }))
            .unwrap_err()
            .code(),
        "insufficient_balance"
    );
    let undo = public.apply(&spend(&c, voucher, 25_000)).unwrap();
    public.undo(undo);
    assert_eq!(public, before);
    // A leg between two commitments names no fund: the pool cannot be found.
    let f = c.signed(Body::Transfer {
        kind: TransferKind::Redeem,
        category: Some(Category::Sport),
        reference: Uuid::nil(),
        legs: vec![leg(committed(voucher, 1).0, committed(v2, 1).0, 1)],
        attachment: Vec::new(),
    });
    assert_eq!(
        public.apply(&public_copy(&f)).unwrap_err().code(),
        "invalid_transfer"
    );
    // An opening that does not fit is refused even in a public replay.
    let (good, o) = committed(voucher, 9);
    let bad = AccountRef::Committed {
        commitment: good.commitment().unwrap(),
        opening: Some(Opening {
            salt: [10; 16],
            account: o.account,
        }),
    };
    let e = c.signed(Body::Transfer {
        kind: TransferKind::Redeem,
        category: Some(Category::Sport),
        reference: Uuid::nil(),
        legs: vec![leg(bad, AccountRef::Clear(provider), 1)],
        attachment: Vec::new(),
    });
    assert_eq!(public.apply(&e).unwrap_err().code(), "bad_opening");
    // Opening a voucher: the pool needs a real fund, flags 1 and no party.
    for (flags, f, party) in [
        (0, fund, Uuid::nil()),
        (FLAG_NO_NEGATIVE, fund, Uuid::new_v4()),
        (FLAG_NO_NEGATIVE, Uuid::new_v4(), Uuid::nil()),
        (FLAG_NO_NEGATIVE, provider, Uuid::nil()),
    ] {
        let e = c.entry(Body::OpenAccount {
            account: AccountRef::Voucher(Uuid::new_v4()),
            kind: AccountKind::Voucher,
            flags,
            fund: f,
            party,
        });
        assert_eq!(
            public.apply(&public_copy(&e)).unwrap_err().code(),
            "invalid_account",
            "flags {flags} fund {f} party {party}"
        );
    }
    // A fund's pool id is reserved in both replays: no account can take it, before or after
    // the fund is opened, so the full and the public replay always agree.
    {
        let mut c = Chain::new();
        let f = Uuid::new_v4();
        c.open(f, AccountKind::Fund, Uuid::nil(), Uuid::nil())
            .unwrap();
        assert_eq!(
            c.open(pool_id(&f), AccountKind::Bank, Uuid::nil(), Uuid::nil())
                .unwrap_err()
                .code(),
            "invalid_account"
        );
        let mut c = Chain::new();
        let f = Uuid::new_v4();
        c.open(pool_id(&f), AccountKind::Bank, Uuid::nil(), Uuid::nil())
            .unwrap();
        assert_eq!(
            c.open(f, AccountKind::Fund, Uuid::nil(), Uuid::nil())
                .unwrap_err()
                .code(),
            "invalid_account"
        );
    }
    // A state change on a commitment is accepted as it is; its commitment counts.
    let e = public_copy(&c.entry(Body::AccountState {
        account: AccountRef::Voucher(v2),
        status: AccountStatus::Closed,
    }));
    let undo = public.apply(&e).unwrap();
    public.undo(undo);
    assert_eq!(public, before);
    // A reversal to the pool, or to the fund (the voucher may be closed by now), but not to
    // another fund.
    let orig = c.last_id();
    let (f2, _, _) = c.world(1_000, 1);
    for later in &c.entries[public.size() as usize..] {
        let _ = public.apply(&public_copy(later)).unwrap();
    }
    for (credit, ok) in [
        (AccountRef::Voucher(voucher), true),
        (AccountRef::Clear(fund), true),
        (AccountRef::Clear(f2), false),
        (AccountRef::Clear(provider), false),
    ] {
        let e = public_copy(&c.entry(Body::Transfer {
            kind: TransferKind::Reverse,
            category: Some(Category::Sport),
            reference: orig,
            legs: vec![leg(AccountRef::Clear(provider), credit, 5_000)],
            attachment: Vec::new(),
        }));
        let mut p = public.clone();
        assert_eq!(p.apply(&e).is_ok(), ok, "{credit:?}");
    }
}

/// Operations for the model test, on a fixed world of accounts.
#[derive(Debug, Clone)]
enum Op {
    Deposit(usize, i64),
    Correct(usize, i64),
    Issue(usize, i64),
    IssueTwo(usize, i64, i64),
    TopUp(usize, i64),
    Redeem(usize, usize, i64),
    Direct(usize, usize, i64),
    Reverse(usize),
    Expire(usize),
    Payout(usize, i64),
    Block(usize),
    Reissue(usize),
    Close(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let amt = prop_oneof![1i64..100, 1i64..30_000, Just(i64::MAX)];
    prop_oneof![
        (0..2usize, amt.clone()).prop_map(|(f, a)| Op::Deposit(f, a)),
        (0..6usize, amt.clone()).prop_map(|(d, a)| Op::Correct(d, a)),
        (0..4usize, amt.clone()).prop_map(|(v, a)| Op::Issue(v, a)),
        (0..4usize, amt.clone(), amt.clone()).prop_map(|(v, a, b)| Op::IssueTwo(v, a, b)),
        (0..4usize, amt.clone()).prop_map(|(v, a)| Op::TopUp(v, a)),
        (0..4usize, 0..4usize, amt.clone()).prop_map(|(v, p, a)| Op::Redeem(v, p, a)),
        (0..4usize, 0..4usize, amt.clone()).prop_map(|(v, p, a)| Op::Direct(v, p, a)),
        (0..8usize).prop_map(Op::Reverse),
        (0..4usize).prop_map(Op::Expire),
        (0..4usize, amt).prop_map(|(p, a)| Op::Payout(p, a)),
        (0..4usize).prop_map(Op::Block),
        (0..4usize).prop_map(Op::Reissue),
        (0..4usize).prop_map(Op::Close),
    ]
}

fn fits(a: i64, b: i64) -> bool {
    a.checked_add(b).is_some()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random sequences of operations agree with a plain reference model, keep every
    /// invariant after every step, replay to the same state, and replay publicly to the same
    /// clear balances with each fund's vouchers pooled.
    #[test]
    fn random_operations_agree_with_a_simple_model(ops in proptest::collection::vec(op(), 1..60)) {
        let mut c = Chain::new();
        // Vouchers 0,1 and providers 0,1 belong to fund 0; 2,3 to fund 1.
        let funds = [Uuid::new_v4(), Uuid::new_v4()];
        let vouchers: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
        let providers: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
        for f in funds { c.open(f, AccountKind::Fund, Uuid::nil(), Uuid::nil()).unwrap(); }
        for i in 0..4 {
            c.voucher(vouchers[i]);
            c.open(providers[i], AccountKind::Provider, funds[i / 2], Uuid::new_v4()).unwrap();
        }
        let mut m_ext = 0i64;
        let mut m_bank = 0i64;
        let mut m_fund = [0i64; 2];
        let mut m_v = [0i64; 4];
        let mut m_p = [0i64; 4];
        let mut issued = [false; 4];
        let mut blocked = [false; 4];
        let mut closed = [false; 4];
        // (entry id, fund, amount, corrected so far)
        let mut deposits: Vec<(Uuid, usize, i64, i64)> = Vec::new();
        // (entry id, voucher, provider, amount, reversed)
        let mut spent: Vec<(Uuid, usize, usize, i64, bool)> = Vec::new();
        let (ext, bank) = (c.external, c.bank);
        for op in ops {
            let (expect_ok, result) = match op {
                Op::Deposit(f, a) => {
                    let ok = a > 0 && fits(m_fund[f], a) && m_ext.checked_sub(a).is_some();
                    let r = c.transfer(TransferKind::Deposit, ext, funds[f], a);
                    if ok { m_fund[f] += a; m_ext -= a; deposits.push((c.last_id(), f, a, 0)); }
                    (ok, r)
                }
                Op::Correct(k, a) => {
                    let Some(&(id, f, amount, corrected)) = deposits.get(k) else { continue };
                    let ok = corrected.checked_add(a).is_some_and(|s| s <= amount) && a <= m_fund[f];
                    let r = c.correct(id, funds[f], a);
                    if ok { m_fund[f] -= a; m_ext += a; deposits[k].3 += a; }
                    (ok, r)
                }
                Op::Issue(v, a) | Op::TopUp(v, a) => {
                    let issue = matches!(op, Op::Issue(..));
                    let f = v / 2;
                    let ok = a > 0 && a <= m_fund[f] && issued[v] != issue && !closed[v];
                    let kind = if issue { TransferKind::Issue } else { TransferKind::TopUp };
                    let r = c.transfer(kind, funds[f], vouchers[v], a);
                    if ok { m_fund[f] -= a; m_v[v] += a; issued[v] = true; }
                    (ok, r)
                }
                Op::IssueTwo(v, a, b) => {
                    let f = v / 2;
                    let ok = a.checked_add(b).is_some_and(|s| s <= m_fund[f]) && !issued[v] && !closed[v];
                    let (fr, vr) = (c.r(funds[f]), c.r(vouchers[v]));
                    let r = c.transfer_legs(TransferKind::Issue, Uuid::nil(), vec![leg(fr, vr, a), leg(fr, vr, b)]);
                    if ok { m_fund[f] -= a + b; m_v[v] += a + b; issued[v] = true; }
                    (ok, r)
                }
                Op::Redeem(v, p, a) | Op::Direct(v, p, a) => {
                    let ok = a > 0 && a <= m_v[v] && v / 2 == p / 2 && !blocked[v] && !closed[v]
                        && fits(m_p[p], a);
                    let kind = if matches!(op, Op::Redeem(..)) { TransferKind::Redeem } else { TransferKind::DirectPayment };
                    let r = c.transfer(kind, vouchers[v], providers[p], a);
                    if ok {
                        m_v[v] -= a; m_p[p] += a;
                        spent.push((c.last_id(), v, p, a, false));
                    }
                    (ok, r)
                }
                Op::Reverse(k) => {
                    let Some(&(id, v, p, a, reversed)) = spent.get(k) else { continue };
                    // Back to the voucher, or to its fund once it is closed.
                    let (credit, to) = if closed[v] {
                        (AccountRef::Clear(funds[v / 2]), m_fund[v / 2])
                    } else {
                        (AccountRef::Voucher(vouchers[v]), m_v[v])
                    };
                    let ok = !reversed && m_p[p] >= a && fits(to, a);
                    let r = c.reverse(id, providers[p], credit, a);
                    if ok {
                        m_p[p] -= a;
                        if closed[v] { m_fund[v / 2] += a } else { m_v[v] += a }
                        spent[k].4 = true;
                    }
                    (ok, r)
                }
                Op::Expire(v) => {
                    let a = m_v[v].max(1);
                    let ok = m_v[v] > 0 && fits(m_fund[v / 2], a);
                    let r = c.transfer(TransferKind::Expire, vouchers[v], funds[v / 2], a);
                    if ok { m_v[v] = 0; m_fund[v / 2] += a; }
                    (ok, r)
                }
                Op::Payout(p, a) => {
                    let ok = a > 0 && a <= m_p[p] && fits(m_bank, a);
                    let r = c.transfer(TransferKind::Payout, providers[p], bank, a);
                    if ok { m_p[p] -= a; m_bank += a; }
                    (ok, r)
                }
                Op::Block(v) => {
                    let ok = issued[v] && !closed[v];
                    let r = c.set_status(vouchers[v], AccountStatus::Blocked);
                    if ok { blocked[v] = true; }
                    (ok, r)
                }
                Op::Reissue(v) => {
                    let ok = issued[v] && !closed[v];
                    let r = c.set_status(vouchers[v], AccountStatus::Active);
                    if ok { blocked[v] = false; }
                    (ok, r)
                }
                Op::Close(v) => {
                    let ok = issued[v] && !closed[v] && m_v[v] == 0;
                    let r = c.set_status(vouchers[v], AccountStatus::Closed);
                    if ok { closed[v] = true; }
                    (ok, r)
                }
            };
            prop_assert_eq!(expect_ok, result.is_ok(), "{:?} -> {:?}", op, result);
            prop_assert_eq!(c.state.total(), 0);
            for (id, a) in c.state.accounts() {
                prop_assert!(a.kind == AccountKind::External || a.balance.0 >= 0, "{} negative", id);
            }
            for i in 0..4 {
                // A voucher exists from its issue on.
                prop_assert_eq!(c.state.account(&vouchers[i]).is_some(), issued[i]);
                prop_assert_eq!(c.state.account(&vouchers[i]).map_or(0, |a| a.balance.0), m_v[i]);
                prop_assert_eq!(bal(&c, &providers[i]), m_p[i]);
            }
            for i in 0..2 { prop_assert_eq!(bal(&c, &funds[i]), m_fund[i]); }
            prop_assert_eq!(bal(&c, &ext), m_ext);
            prop_assert_eq!(bal(&c, &bank), m_bank);
        }
        // Replaying every entry from scratch gives the same state.
        let mut replay = LedgerState::new();
        for e in &c.entries { let _ = replay.apply(e).unwrap(); }
        prop_assert_eq!(&replay, &c.state);
        // The public replay gives the same clear accounts and each fund's vouchers as a pool.
        let public = replay_public(&c.entries);
        assert_public_matches(&c.state, &public);
        for f in 0..2 {
            let pool = public.account(&pool_id(&funds[f])).map(|p| p.balance.0);
            // A fund's pool exists from its first issue on.
            let expected = (issued[2 * f] || issued[2 * f + 1]).then(|| m_v[2 * f] + m_v[2 * f + 1]);
            prop_assert_eq!(pool, expected);
        }
    }
}

#[test]
fn a_reversal_goes_where_the_money_came_from_decided_in_one_place() {
    let mut c = Chain::new();
    let (fund, voucher, provider) = c.world(100_000, 25_000);
    c.transfer(TransferKind::DirectPayment, voucher, provider, 1_000)
        .unwrap();
    let id = c.last_id();
    let (legs, category) = c.state.reversal_of(&id).unwrap();
    assert_eq!(
        legs,
        vec![leg(
            AccountRef::Clear(provider),
            AccountRef::Voucher(voucher),
            1_000
        )]
    );
    assert_eq!(category, Some(Category::Sport));
    // What it says is what the ledger takes (sealed into a fresh commitment).
    let mut s = c.state.clone();
    let e = c.entry(Body::Transfer {
        kind: TransferKind::Reverse,
        category,
        reference: id,
        legs: legs.clone(),
        attachment: Vec::new(),
    });
    let _ = s.apply(&e).unwrap();
    assert_eq!(s.account(&voucher).unwrap().balance.0, 25_000);
    // Once the voucher is closed (its fund expired), the money goes to the fund instead.
    c.transfer(TransferKind::Expire, voucher, fund, 24_000)
        .unwrap();
    c.set_status(voucher, AccountStatus::Closed).unwrap();
    let (legs, category) = c.state.reversal_of(&id).unwrap();
    assert_eq!(legs[0].credit, AccountRef::Clear(fund));
    c.transfer_legs(TransferKind::Reverse, id, legs).unwrap();
    assert_eq!(category, Some(Category::Sport));
    assert_eq!(bal(&c, &fund), 100_000 - 25_000 + 24_000 + 1_000);
    assert!(matches!(
        c.state.reversal_of(&id),
        Err(Rejection::AlreadyReversed(_))
    ));
    assert!(matches!(
        c.state.reversal_of(&Uuid::new_v4()),
        Err(Rejection::UnknownTransfer(_))
    ));
}
