//! Roles of the people who log in, and which role may act as which.

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything staff and finance may, plus funds, providers and erasure.
    Admin,
    /// Leergeld intake: households, vouchers.
    Staff,
    /// Leergeld finance: deposits, direct payments, payouts.
    Finance,
    /// Reads everything, changes nothing.
    Auditor,
    /// Runs a provider's account: redemptions, reversals, volunteers.
    ProviderManager,
    /// A volunteer at a provider's till: looks up and redeems vouchers.
    Cashier,
}

/// A role name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl Role {
    /// All roles.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Staff,
        Role::Finance,
        Role::Auditor,
        Role::ProviderManager,
        Role::Cashier,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Finance => "finance",
            Role::Auditor => "auditor",
            Role::ProviderManager => "provider_manager",
            Role::Cashier => "cashier",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// True when a user with this role may act as `required` (admin covers staff and finance).
    pub fn acts_as(self, required: Role) -> bool {
        self == required || (self == Role::Admin && matches!(required, Role::Staff | Role::Finance))
    }

    /// True for roles that belong to a provider.
    pub fn is_provider_role(self) -> bool {
        matches!(self, Role::ProviderManager | Role::Cashier)
    }
}

impl TryFrom<String> for Role {
    type Error = UnknownRole;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Role::parse(&s).ok_or(UnknownRole(s))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_acts_as_staff_and_finance_but_not_as_provider_roles() {
        assert!(Role::Admin.acts_as(Role::Staff));
        assert!(Role::Admin.acts_as(Role::Finance));
        assert!(!Role::Admin.acts_as(Role::Cashier));
        assert!(!Role::Staff.acts_as(Role::Finance));
        assert!(!Role::Auditor.acts_as(Role::Staff));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(Role::try_from(r.as_str().to_owned()), Ok(r));
        }
        assert!(Role::try_from("root".to_owned()).is_err());
    }
}
