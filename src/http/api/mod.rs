//! JSON handlers per area. Each finds out who is asking, calls the use case (which checks
//! what that caller may do) and shapes the answer.

pub mod funds;
pub mod households;
pub mod providers;
pub mod redemptions;
pub mod users;
pub mod vouchers;
