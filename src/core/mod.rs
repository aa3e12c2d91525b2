//! The pure core: no I/O, no clock. Everything here is a plain function or type; the one
//! randomness is the salt of a voucher commitment ([`entry::Opening::fresh`], used by
//! [`entry::Body::seal`]).

pub mod accounts;
pub mod audit;
pub mod category;
pub mod entry;
pub mod hash;
pub mod iban;
pub mod merkle;
pub mod money;
pub mod note;
pub mod proof;
pub mod role;
pub mod time;
pub mod token;
pub mod totp;
pub mod voucher;
