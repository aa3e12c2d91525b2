//! A request as it arrived, read only once the caller is known to be allowed.

use super::error::{Error, Result};

/// A request as it arrived: parsed, or why it could not be. A use case reads it only after it
/// has checked who asks, so that a caller who may not use an endpoint learns nothing about
/// the shape of its requests.
#[derive(Debug)]
pub struct Input<T>(Result<T>);

impl<T> Input<T> {
    /// A request that was parsed.
    pub fn new(value: T) -> Self {
        Self(Ok(value))
    }

    /// A request that could not be parsed, and why.
    pub fn invalid(error: Error) -> Self {
        Self(Err(error))
    }

    /// The parsed request transformed, or the same error.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Input<U> {
        Input(self.0.map(f))
    }

    /// The request, once the caller is known to be allowed.
    pub(in crate::service) fn read(self) -> Result<T> {
        self.0
    }
}

impl<T> From<T> for Input<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}
