//! Users and login sessions.
