//! JSON handlers per area. Each checks the role, calls the use case, shapes the answer.

pub mod funds;
pub mod households;
pub mod providers;
pub mod redemptions;
pub mod vouchers;
