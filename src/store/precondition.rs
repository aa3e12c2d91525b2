//! Conditions a change checks inside its own transaction.

/// A condition checked inside the transaction that makes the whole command or change set
/// refuse when it no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// The fund has not been expired.
    FundOpen,
    /// The fund has not been expired and has exactly the vouchers counted when it was read.
    FundUnchanged,
    /// The household's personal data has not been erased.
    HouseholdNotErased,
    /// The voucher's token is still signed by the key that was read (no other reissue came
    /// first).
    TokenKeyUnchanged,
    /// A ledger account still has the status, and its voucher the token generation, that were
    /// read (no block or reissue came first).
    AccountUnchanged,
    /// The token being redeemed is still of the voucher's current generation (no reissue came
    /// between the check and the booking).
    TokenCurrent,
}
