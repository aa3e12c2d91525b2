//! Grows a ledger to a given size, then measures how long reopening it (the start-up replay)
//! takes. Used for the start-up figures in `docs/performance.md`:
//!
//! ```sh
//! cargo run --release --example grow_ledger -- sqlite:///tmp/big/kp.db /tmp/big/keys 100000 4
//! ```
//!
//! Arguments: database URL, keys directory, number of vouchers, direct payments per voucher.
//! One fund pays for every voucher and one provider receives every payment: the shape that
//! makes single accounts busy, as a large fund and a large club are.

use std::path::PathBuf;
use std::time::Instant;

use kindpakket::core::category::Category;
use kindpakket::core::entry::{AccountKind, AccountRef, Body, FLAG_NO_NEGATIVE, Leg, TransferKind};
use kindpakket::core::money::Cents;
use kindpakket::ledger::{Command, Draft, Ledger, LedgerOptions};
use kindpakket::store::Store;
use uuid::Uuid;

fn open(kind: AccountKind, fund: Uuid) -> (Uuid, Draft) {
    let id = Uuid::new_v4();
    let party = if kind == AccountKind::Provider {
        Uuid::new_v4()
    } else {
        Uuid::nil()
    };
    let body = Body::OpenAccount {
        account: AccountRef::Clear(id),
        kind,
        flags: FLAG_NO_NEGATIVE,
        fund,
        party,
    };
    (id, Draft::new(body))
}

/// Vouchers are named by commitments (sealed by the sequencer), which side follows from the kind.
fn transfer(kind: TransferKind, debit: Uuid, credit: Uuid, cents: i64) -> Draft {
    let (debit, credit) = match kind {
        TransferKind::Issue | TransferKind::TopUp | TransferKind::Reverse => {
            (AccountRef::Clear(debit), AccountRef::Voucher(credit))
        }
        TransferKind::Redeem | TransferKind::DirectPayment | TransferKind::Expire => {
            (AccountRef::Voucher(debit), AccountRef::Clear(credit))
        }
        _ => (AccountRef::Clear(debit), AccountRef::Clear(credit)),
    };
    Draft::new(Body::Transfer {
        kind,
        category: (kind == TransferKind::DirectPayment).then_some(Category::Sport),
        reference: Uuid::nil(),
        legs: vec![Leg {
            debit,
            credit,
            amount: Cents(cents),
        }],
        attachment: Vec::new(),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, keys, vouchers, payments] = args.as_slice() else {
        return Err(
            "usage: grow_ledger DATABASE_URL KEYS_DIR VOUCHERS PAYMENTS_PER_VOUCHER".into(),
        );
    };
    let keys = PathBuf::from(keys);
    let vouchers: u64 = vouchers.parse()?;
    let payments: u64 = payments.parse()?;

    let ledger = Ledger::open(Store::open(url).await?, &keys, LedgerOptions::default()).await?;
    let external = {
        let state = ledger.state().await;
        state
            .accounts()
            .find(|(_, a)| a.kind == AccountKind::External)
            .map(|(id, _)| *id)
            .ok_or("no external account")?
    };
    let (fund, open_fund) = open(AccountKind::Fund, Uuid::nil());
    let (provider, open_provider) = open(AccountKind::Provider, fund);
    let per_voucher = 1_000 * (payments as i64 + 1);
    ledger
        .submit(Command {
            entries: vec![
                open_fund,
                open_provider,
                transfer(
                    TransferKind::Deposit,
                    external,
                    fund,
                    per_voucher * vouchers as i64,
                ),
            ],
            changes: Vec::new(),
        })
        .await?;

    let started = Instant::now();
    const CHUNK: u64 = 200;
    let mut done = 0;
    while done < vouchers {
        let n = CHUNK.min(vouchers - done);
        let mut entries = Vec::new();
        for _ in 0..n {
            // The issue opens the voucher's account.
            let voucher = Uuid::new_v4();
            entries.push(transfer(TransferKind::Issue, fund, voucher, per_voucher));
            for _ in 0..payments {
                entries.push(transfer(
                    TransferKind::DirectPayment,
                    voucher,
                    provider,
                    1_000,
                ));
            }
        }
        ledger
            .submit(Command {
                entries,
                changes: Vec::new(),
            })
            .await?;
        done += n;
    }
    let size = ledger.checkpoint().size;
    println!(
        "grew to {size} entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    ledger.close().await;

    let started = Instant::now();
    let ledger = Ledger::open(Store::open(url).await?, &keys, LedgerOptions::default()).await?;
    println!(
        "reopened {} entries (start-up replay) in {:.2} s",
        ledger.checkpoint().size,
        started.elapsed().as_secs_f64()
    );
    ledger.close().await;
    Ok(())
}
