//! Use cases: funds, households, providers, vouchers, redemptions, sessions and users, and the
//! public view of the ledger. Each takes the acting [`Actor`], checks what that actor may do
//! before it looks at the request, checks its rules, reads what it needs, and hands the ledger
//! one command (entries plus the row changes that must commit with them). The HTTP layer and
//! the pages only find out who is asking, call a use case and render its answer; they never
//! reach the store or the ledger themselves.

mod actor;
mod context;
mod credentials;
pub mod demo;
pub mod error;
pub mod funds;
pub mod households;
mod idempotency;
mod in_flight;
mod input;
pub mod letters;
pub mod links;
mod login_limit;
mod messages;
pub mod parent;
mod password_pool;
pub mod providers;
pub(crate) mod qr;
mod random;
pub mod redemptions;
pub mod sessions;
mod text;
pub(crate) mod transparency;
pub mod two_factor;
pub mod users;
pub mod vouchers;

pub use actor::{Actor, User};
pub use context::{Services, Settings};
pub use error::{Error, Result};
pub use input::Input;
pub use login_limit::Delays;
// `clean_text` is a pure check, also used to keep the API document true to it.
pub(crate) use text::clean_text;
pub(in crate::service) use text::{optional_text, positive_amount, required_text};
