//! Demo data for `serve --demo`: users for every Leergeld role, printed with their passwords.
//! Never use these accounts outside a demonstration.

use crate::auth::{self, Role};
use crate::ledger::Ledger;
use crate::store::StoreError;

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = "demo-wachtwoord";

/// Creates the demo users that do not exist yet and prints how to log in.
pub async fn seed(ledger: &Ledger) -> anyhow::Result<()> {
    let store = ledger.store();
    let hash = auth::hash_password(DEMO_PASSWORD)?;
    let users = [
        ("beheerder", Role::Admin),
        ("medewerker", Role::Staff),
        ("financien", Role::Finance),
        ("accountant", Role::Auditor),
    ];
    for (name, role) in users {
        match store
            .create_user(name, role.as_str(), None, &hash, chrono::Utc::now())
            .await
        {
            Ok(_) | Err(StoreError::Unique) => {}
            Err(e) => return Err(e.into()),
        }
    }
    println!("Demo-accounts (wachtwoord voor allemaal: {DEMO_PASSWORD}):");
    for (name, role) in users {
        println!("  {name:<12} rol {role}");
    }
    Ok(())
}
