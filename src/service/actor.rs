//! Who is asking, and the one place where a role is checked. Every use case takes an
//! [`Actor`] and decides itself what that actor may do; the HTTP layer and the pages only find
//! out who is asking.

use uuid::Uuid;

use super::error::{Error, Result, Unauthenticated};
use crate::core::role::Role;

/// A logged-in user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    /// User id (nil for the operator at the command line).
    pub id: Uuid,
    /// Role.
    pub role: Role,
    /// The provider of a provider manager or cashier.
    pub provider: Option<Uuid>,
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// Nobody is logged in (or the credentials were not valid).
    Anonymous,
    /// A logged-in user.
    User(User),
    /// A user who must set up two-factor log-in before anything else (`--require-2fa`).
    Enrolling(User),
    /// A parent, through the household's personal link.
    Parent {
        /// The household the link belongs to.
        household: Uuid,
    },
}

impl Actor {
    /// The operator at the command line (`user add`, demo seeding): acts as an admin.
    pub fn operator() -> Self {
        Actor::User(User {
            id: Uuid::nil(),
            role: Role::Admin,
            provider: None,
        })
    }

    /// A user of a role (and provider, for provider roles).
    pub fn user(id: Uuid, role: Role, provider: Option<Uuid>) -> Self {
        Actor::User(User { id, role, provider })
    }

    /// The role check: the user, when the actor is a user acting as one of `roles`; otherwise
    /// `NotLoggedIn` for someone who is not logged in (a parent link counts as not logged in
    /// wherever a log-in is needed) and `Forbidden` for a user of another role.
    pub fn require(&self, roles: &[Role]) -> Result<User> {
        match self {
            Actor::User(u) if roles.iter().any(|r| u.role.acts_as(*r)) => Ok(*u),
            Actor::User(_) => Err(Error::Forbidden),
            Actor::Enrolling(_) => Err(Error::TwoFactorEnrolmentRequired),
            Actor::Anonymous | Actor::Parent { .. } => {
                Err(Error::Unauthenticated(Unauthenticated::NotLoggedIn))
            }
        }
    }

    /// The logged-in user, also one who still has to set up two-factor log-in: for the use
    /// cases about the user's own log-in (setting it up, changing the password).
    pub fn require_self(&self) -> Result<User> {
        match self {
            Actor::User(u) | Actor::Enrolling(u) => Ok(*u),
            Actor::Anonymous | Actor::Parent { .. } => {
                Err(Error::Unauthenticated(Unauthenticated::NotLoggedIn))
            }
        }
    }

    /// Like [`Actor::require`] for the provider roles, with the user's provider.
    pub fn require_provider(&self, roles: &[Role]) -> Result<(User, Uuid)> {
        let user = self.require(roles)?;
        let provider = user.provider.ok_or(Error::Forbidden)?;
        Ok((user, provider))
    }

    /// True for a user acting as one of `roles` (for what a use case shows, not whether it
    /// runs: that is [`Actor::require`]).
    pub fn acts_as(&self, roles: &[Role]) -> bool {
        self.require(roles).is_ok()
    }

    /// The user id, for the audit trail of off-ledger rows.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Actor::User(u) => Some(u.id),
            Actor::Enrolling(u) => Some(u.id),
            Actor::Anonymous | Actor::Parent { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_checked_in_one_place() {
        let admin = Actor::user(Uuid::from_u128(1), Role::Admin, None);
        assert!(admin.require(&[Role::Staff]).is_ok());
        assert!(matches!(
            admin.require(&[Role::Cashier]),
            Err(Error::Forbidden)
        ));
        let parent = Actor::Parent {
            household: Uuid::from_u128(2),
        };
        assert!(matches!(
            parent.require(&[Role::Staff]),
            Err(Error::Unauthenticated(Unauthenticated::NotLoggedIn))
        ));
        assert!(matches!(
            Actor::Anonymous.require(&[Role::Auditor]),
            Err(Error::Unauthenticated(Unauthenticated::NotLoggedIn))
        ));
        let cashier = Actor::user(Uuid::from_u128(3), Role::Cashier, Some(Uuid::from_u128(9)));
        assert_eq!(
            cashier
                .require_provider(&[Role::Cashier])
                .map(|(_, p)| p)
                .ok(),
            Some(Uuid::from_u128(9))
        );
        let stray = Actor::user(Uuid::from_u128(4), Role::Cashier, None);
        assert!(matches!(
            stray.require_provider(&[Role::Cashier]),
            Err(Error::Forbidden)
        ));
    }
}
