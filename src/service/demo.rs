//! Demo data for `serve --demo`: a fund with money, households with children and vouchers, two
//! clubs, and users for every role, printed with their passwords and a sample token. Seeding
//! runs once per database; later starts only print the log-ins again. Never use these
//! accounts outside a demonstration.

use chrono::{Datelike, NaiveDate};

use super::funds::Deposit;
use super::households::{NewChild, NewHousehold};
use super::providers::NewProvider;
use super::users::{self, AddUserError, NewUser};
use super::vouchers::issue::IssueRequest;
use super::{Actor, Input, Services, funds, households, providers, vouchers};
use crate::core::role::Role;

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = "demo-wachtwoord";

const FIRST_HOUSEHOLD: &str = "DEMO-001";

fn date(y: i32, m: u32, d: u32) -> anyhow::Result<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| anyhow::anyhow!("bad demo date"))
}

fn err(e: super::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Seeds the demo data (once) and prints how to use it. Refuses a database that holds other
/// data: the demo books a deposit on the permanent ledger and creates an admin with a known
/// password, which must never happen to a real one.
pub async fn seed(svc: &Services) -> anyhow::Result<()> {
    if svc
        .store()
        .household_by_reference(FIRST_HOUSEHOLD)
        .await?
        .is_none()
    {
        if svc.store().records().await? > 0 {
            anyhow::bail!(
                "--demo geweigerd: deze database bevat al echte gegevens en is geen demo. De demo \
                 boekt een storting op het blijvende grootboek en maakt een beheerder met een \
                 bekend wachtwoord. Gebruik een nieuwe database voor de demo (bijvoorbeeld \
                 --database sqlite://demo.db)."
            );
        }
        seed_data(svc).await?;
    }
    print_instructions(svc).await
}

async fn seed_data(svc: &Services) -> anyhow::Result<()> {
    let year = svc.today().year();
    let system = Actor::operator();
    let (fund, _) = funds::create(
        svc,
        &system,
        Input::new(funds::NewFund {
            name: format!("Kindpakket Westerkwartier {year}"),
            sponsor: "Gemeente Westerkwartier".into(),
            valid_from: date(year, 1, 1)?,
            valid_until: date(year, 12, 31)?,
            categories: vec!["sport".into(), "cultuur".into(), "school".into()],
            amount_per_child_cents: 25_000,
            max_age_years: Some(17),
            pooling: Some("child".into()),
        }),
    )
    .await
    .map_err(err)?;
    funds::deposit(
        svc,
        &system,
        fund.id,
        None,
        Input::new(Deposit {
            amount_cents: 10_000_000,
            reference: "Beschikking gemeente (demo)".into(),
        }),
    )
    .await
    .map_err(err)?;
    let families = [
        (
            FIRST_HOUSEHOLD,
            "Fatima de Vries",
            vec![
                ("Noor", date(year - 11, 4, 2)?),
                ("Sem", date(year - 8, 9, 30)?),
            ],
        ),
        (
            "DEMO-002",
            "Jan Bakker",
            vec![("Tess", date(year - 14, 1, 15)?)],
        ),
        (
            "DEMO-003",
            "Ilse Mulder",
            vec![
                ("Daan", date(year - 6, 6, 6)?),
                ("Lotte", date(year - 9, 3, 21)?),
                ("Finn", date(year - 12, 11, 11)?),
            ],
        ),
    ];
    for (reference, parent, kids) in families {
        let created = households::create(
            svc,
            &system,
            Input::new(NewHousehold {
                reference: reference.into(),
                parent_name: parent.into(),
                email: None,
                phone: None,
                children: kids
                    .into_iter()
                    .map(|(first_name, birth_date)| NewChild {
                        first_name: first_name.into(),
                        birth_date,
                    })
                    .collect(),
            }),
        )
        .await
        .map_err(err)?;
        for child in created.children {
            let req = IssueRequest {
                child_id: Some(child.id),
                household_id: None,
                amount_cents: None,
            };
            vouchers::issue(svc, &system, fund.id, None, Input::new(req))
                .await
                .map_err(err)?;
        }
    }
    let club = providers::create(
        svc,
        &system,
        Input::new(NewProvider {
            name: "VV Zuidhorn".into(),
            kvk: "40000001".into(),
            iban: "NL91ABNA0417164300".into(),
            categories: vec!["sport".into()],
        }),
    )
    .await
    .map_err(err)?;
    funds::approve_provider(
        svc,
        &system,
        fund.id,
        club.id,
        Input::new(vec!["sport".into()]),
    )
    .await
    .map_err(err)?;
    let school = providers::create(
        svc,
        &system,
        Input::new(NewProvider {
            name: "Muziekschool Westerkwartier".into(),
            kvk: "40000002".into(),
            iban: "NL44RABO0123456789".into(),
            categories: vec!["cultuur".into()],
        }),
    )
    .await
    .map_err(err)?;
    funds::approve_provider(
        svc,
        &system,
        fund.id,
        school.id,
        Input::new(vec!["cultuur".into()]),
    )
    .await
    .map_err(err)?;
    let users = [
        ("beheerder", Role::Admin, None),
        ("medewerker", Role::Staff, None),
        ("financien", Role::Finance, None),
        ("accountant", Role::Auditor, None),
        ("voorzitter-vv", Role::ProviderManager, Some(club.id)),
        ("kassa-vv", Role::Cashier, Some(club.id)),
        ("kassa-muziek", Role::Cashier, Some(school.id)),
    ];
    for (name, role, provider) in users {
        let new = NewUser {
            username: name.into(),
            role,
            provider,
            password: DEMO_PASSWORD.into(),
        };
        match users::add(svc.store(), &system, new).await {
            Ok(_) | Err(AddUserError::Taken(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn print_instructions(svc: &Services) -> anyhow::Result<()> {
    println!("Demo-gegevens (wachtwoord voor alle accounts: {DEMO_PASSWORD}):");
    for (name, what) in [
        ("beheerder", "admin: regelingen, aanbieders, alles"),
        ("medewerker", "staff: huishoudens en vouchers"),
        ("financien", "finance: stortingen en directe betalingen"),
        ("accountant", "auditor: alles lezen"),
        ("voorzitter-vv", "provider_manager van VV Zuidhorn"),
        ("kassa-vv", "cashier van VV Zuidhorn (sport)"),
        (
            "kassa-muziek",
            "cashier van Muziekschool Westerkwartier (cultuur)",
        ),
    ] {
        println!("  {name:<14} {what}");
    }
    if let Some(h) = svc.store().household_by_reference(FIRST_HOUSEHOLD).await? {
        if let Some(v) = svc.store().household_vouchers(h.id).await?.first() {
            match super::vouchers::token_of(svc, v).await {
                Ok(token) => println!("Voorbeeldcode (voucher van Noor): {token}"),
                Err(e) => println!("Voorbeeldcode (voucher van Noor): niet beschikbaar ({e})"),
            }
        }
        if let Some(link) = households::parent_link(svc, &h) {
            println!("Persoonlijke link van de ouder: {link}");
        }
    }
    println!(
        "Inloggen via de API: POST /api/v1/login {{\"username\": \"kassa-vv\", \"password\": \"{DEMO_PASSWORD}\"}}"
    );
    Ok(())
}
