//! Vouchers: a ledger account funded from a fund, with a signed KP1 token for the QR code.
//!
//! - [`issue`]: issuing a voucher to a child or (pooled funds) a household;
//! - [`lifecycle`]: top-up, block and reissue;
//! - [`scan`]: checking a scanned or typed token, and what a club sees when it scans;
//! - [`history`]: a voucher with its balance and history, and its QR code.

mod common;
pub mod history;
pub mod issue;
pub mod lifecycle;
pub mod scan;

pub(in crate::service) use common::{account, parse_category, token_of};
pub(in crate::service) use history::balance_after;
pub use history::{HistoryItem, VoucherView, current_token, view};
pub use issue::{IssueFor, IssueSummary, Issued, issue, issue_all};
pub use lifecycle::{
    Block, BulkReissued, Reissued, ReissuedVoucher, TopUp, ToppedUp, block, reissue, reissue_all,
    reissued_from_key, top_up,
};
pub(in crate::service) use scan::check_token;
pub use scan::{CheckedToken, Lookup, lookup};
