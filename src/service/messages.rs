//! The Dutch sentence (B1) for every error a person can meet, in one place. Codes are for
//! programs and never change; these sentences are for people and may be improved freely.

use std::borrow::Cow;

use super::error::{
    Conflict, Error, FieldIssue, Invalid, Missing, ProofProblem, Rule, TextProblem,
    Unauthenticated, Unavailable,
};
use crate::core::accounts::Rejection;
use crate::core::category::CategoryNameError;
use crate::core::token::TokenError;

type Text = Cow<'static, str>;

fn s(text: &'static str) -> Text {
    Cow::Borrowed(text)
}

impl Error {
    /// The sentence for people, in Dutch.
    pub fn message(&self) -> Text {
        match self {
            Error::Invalid(i) => invalid(i),
            Error::Unauthenticated(Unauthenticated::NotLoggedIn) => {
                s("U bent niet ingelogd. Log eerst in.")
            }
            Error::Unauthenticated(Unauthenticated::InvalidLogin) => {
                s("De gebruikersnaam, het wachtwoord of de code klopt niet.")
            }
            Error::Forbidden => s("U mag dit niet doen met uw account."),
            Error::TwoFactorEnrolmentRequired => s(
                "Stel eerst inloggen in twee stappen in (met een authenticator-app). Daarna kunt \
                 u verder.",
            ),
            Error::Unauthenticated(Unauthenticated::TotpRequired) => {
                s("Vul ook de code van zes cijfers uit uw authenticator-app in.")
            }
            Error::Unauthenticated(Unauthenticated::RecoveryCodeRequired) => s(
                "Er is te vaak een verkeerde code ingevuld. Log nu in met een van uw \
                 herstelcodes; codes uit de app werken even niet. Iemand anders kent misschien \
                 uw wachtwoord: wijzig het meteen na het inloggen. Hebt u geen herstelcodes? \
                 Neem dan contact op met de beheerder.",
            ),
            Error::Unauthenticated(Unauthenticated::TwoFactorLocked) => s(
                "Uw account is geblokkeerd: er is te vaak een verkeerde code ingevuld. Iemand \
                 anders kent waarschijnlijk uw wachtwoord. Neem contact op met de beheerder: die \
                 geeft u een nieuw wachtwoord en heft de blokkade op.",
            ),
            Error::NotFound(m) => missing(*m),
            Error::Conflict(c) => conflict(*c),
            Error::Rule(r) => rule(r),
            Error::TooManyAttempts { retry_after } => Cow::Owned(format!(
                "Te vaak een verkeerd wachtwoord. Probeer het over {} minuten opnieuw.",
                retry_after.div_ceil(60)
            )),
            Error::Unavailable(Unavailable::Busy { .. }) => {
                s("Het systeem is even niet bereikbaar. Probeer het over een minuut opnieuw.")
            }
            Error::Unavailable(Unavailable::LoginBusy) => s(
                "Er wordt nu heel vaak tegelijk ingelogd. Probeer het over een paar seconden opnieuw.",
            ),
            Error::Unavailable(Unavailable::Timeout) => s(
                "Dit duurde te lang. Het verzoek kan toch zijn uitgevoerd: kijk dat na voordat \
                 u het opnieuw probeert. Een betaling aan de kassa die u herhaalt met dezelfde \
                 Idempotency-Key wordt nooit dubbel geboekt.",
            ),
            Error::Replayed(r) => Cow::Owned(r.message.clone()),
            Error::Internal(_) => s("Er ging iets mis aan onze kant. Probeer het later opnieuw."),
        }
    }
}

fn field(issue: &FieldIssue, what: &str) -> Text {
    let the = if what == "veld" { "Het" } else { "De" };
    Cow::Owned(match issue {
        FieldIssue::Missing(f) => format!("{the} {what} '{f}' ontbreekt."),
        FieldIssue::Unknown(f) => {
            format!("{the} {what} '{f}' kennen we niet. Controleer de schrijfwijze.")
        }
        FieldIssue::OutOfRange(f) => {
            format!("{the} {what} '{f}' heeft een getal dat te groot of te klein is.")
        }
        FieldIssue::Wrong(f) => {
            format!("{the} {what} '{f}' heeft een verkeerde waarde of een verkeerd soort waarde.")
        }
        FieldIssue::Unnamed => format!("Een {what} ontbreekt of heeft een verkeerde waarde."),
    })
}

fn invalid(i: &Invalid) -> Text {
    match i {
        Invalid::Body { issue, .. } => field(issue, "veld"),
        Invalid::Query { issue, .. } => field(issue, "zoekparameter"),
        Invalid::MalformedJson { .. } => s("Het verzoek is geen geldige JSON."),
        Invalid::NotAnObject => s("Stuur de gegevens als één JSON-object, tussen { en }."),
        Invalid::UnsupportedMediaType => {
            s("Stuur de gegevens als JSON (Content-Type: application/json).")
        }
        Invalid::BodyTooLarge => s("Het verzoek is te groot."),
        Invalid::MethodNotAllowed => s("Deze handeling kan niet op dit adres."),
        Invalid::Text { field, problem } => Cow::Owned({
            let field = field_label(field);
            match problem {
                TextProblem::Empty => format!("Het veld '{field}' mag niet leeg zijn."),
                TextProblem::TooLong(max) => {
                    format!("Het veld '{field}' is te lang (hoogstens {max} tekens).")
                }
                TextProblem::ControlCharacters => {
                    format!("Het veld '{field}' bevat tekens die niet zijn toegestaan.")
                }
                TextProblem::FormatCharacters => format!(
                    "Het veld '{field}' bevat onzichtbare tekens (zoals een teken dat de \
                 leesrichting omdraait). Typ de tekst opnieuw in."
                ),
            }
        }),
        Invalid::Amount => s("Het bedrag moet groter zijn dan nul."),
        Invalid::AmountPerChild => {
            s("Het bedrag per kind moet groter zijn dan nul en hoogstens € 100.000,00.")
        }
        Invalid::AmountTooLarge => s("Dit bedrag is te groot."),
        Invalid::PeriodReversed => s("De einddatum ligt voor de begindatum."),
        Invalid::PeriodTooLong => s("Deze einddatum is te ver weg."),
        Invalid::Categories(CategoryNameError::Empty) => {
            s("Kies minstens één categorie: sport, cultuur, school of overig.")
        }
        Invalid::Categories(CategoryNameError::Unknown(n)) => Cow::Owned(format!(
            "Onbekende categorie '{n}'. Kies uit sport, cultuur, school of overig."
        )),
        Invalid::Category => s("Kies een categorie: sport, cultuur, school of overig."),
        Invalid::MaxAge => s("De maximale leeftijd moet tussen 0 en 30 jaar liggen."),
        Invalid::Pooling => {
            s("Kies voor 'pooling' tussen 'child' (per kind) en 'household' (per huishouden).")
        }
        Invalid::Kvk => s("Het KvK-nummer moet uit 8 cijfers bestaan."),
        Invalid::Iban => s("Dit IBAN klopt niet. Controleer de letters en cijfers."),
        Invalid::Email => s("Dit e-mailadres klopt niet."),
        Invalid::Phone => s("Dit telefoonnummer klopt niet."),
        Invalid::Password => s(
            "Een wachtwoord heeft 10 tot 1000 tekens, niet alleen spaties, en geen onzichtbare \
             stuurtekens.",
        ),
        Invalid::KeyId => s("Een sleutel-id bestaat uit 8 hexadecimale tekens, zoals 1a2b3c4d."),
        Invalid::Username => s("Een gebruikersnaam heeft 1 tot 100 tekens, zonder spaties."),
        Invalid::Children => Cow::Owned(format!(
            "Geef 1 tot {} kinderen op.",
            super::households::MAX_CHILDREN
        )),
        Invalid::BirthDate => s("Deze geboortedatum kan niet kloppen."),
        Invalid::ChildOrHousehold => s("Geef child_id óf household_id op."),
        Invalid::ChildIdRequired => s("Deze regeling werkt per kind: geef child_id op."),
        Invalid::HouseholdIdRequired => {
            s("Deze regeling werkt per huishouden: geef household_id op.")
        }
        Invalid::TokenTooLong => s("Deze code is veel te lang."),
        Invalid::IdempotencyKeyMissing => s(
            "Stuur een Idempotency-Key mee, zodat een herhaald verzoek niet twee keer afschrijft.",
        ),
        Invalid::IdempotencyKey => s("De Idempotency-Key moet 1 tot 255 zichtbare tekens zijn."),
        Invalid::Range => s("Het einde van het bereik ligt voor het begin."),
        Invalid::ProofRequest(ProofProblem::BeyondTree) => {
            s("Zo groot is het grootboek (nog) niet.")
        }
        Invalid::ProofRequest(ProofProblem::IndexOutsideSize) => {
            s("Dit volgnummer ligt buiten het gevraagde deel van het grootboek.")
        }
        Invalid::ProofRequest(ProofProblem::FromAfterTo) => {
            s("'from' mag niet groter zijn dan 'to'.")
        }
    }
}

fn missing(m: Missing) -> Text {
    s(match m {
        Missing::Fund => "Deze regeling bestaat niet.",
        Missing::Household => "Dit huishouden bestaat niet.",
        Missing::Child => "Dit kind bestaat niet.",
        Missing::Provider => "Deze aanbieder bestaat niet.",
        Missing::Voucher => "Dit tegoed bestaat niet.",
        Missing::Redemption => "Deze betaling bestaat niet.",
        Missing::Deposit => "Er is geen storting in deze regeling op die plaats in het grootboek.",
        Missing::User => "Deze gebruiker bestaat niet.",
        Missing::VoucherKey => "Er is geen sleutel voor tegoeden met deze code.",
        Missing::Path => "Dit adres bestaat niet. Controleer het nummer.",
        Missing::Page => "Deze pagina of dit adres bestaat niet.",
    })
}

fn conflict(c: Conflict) -> Text {
    s(match c {
        Conflict::AlreadyIssued { pooled: true } => {
            "Dit gezin heeft in deze regeling al een tegoed."
        }
        Conflict::AlreadyIssued { pooled: false } => {
            "Dit kind heeft in deze regeling al een tegoed."
        }
        Conflict::AlreadyReversed => "Deze betaling is al teruggedraaid.",
        Conflict::AlreadyPaidOut => {
            "Deze betaling is al uitbetaald en kan niet meer worden teruggedraaid."
        }
        Conflict::AlreadyBlocked => "Dit tegoed is al geblokkeerd.",
        Conflict::AlreadyExpired => "Deze regeling is al afgesloten.",
        Conflict::ReferenceTaken => "Er is al een gezin met dit kenmerk.",
        Conflict::FundNameTaken => {
            "Er is al een regeling met deze naam. Kies een andere naam, of open die regeling via het overzicht."
        }
        Conflict::Exists => "Dit bestaat al.",
        Conflict::Changed => "Dit kan niet meer: de gegevens zijn intussen veranderd.",
        Conflict::TwoFactorOn => "Inloggen in twee stappen staat al aan voor uw account.",
        Conflict::VoucherChanged => {
            "Dit tegoed is intussen al opnieuw uitgegeven. Bekijk het tegoed opnieuw; de \
             nieuwste brief is de goede."
        }
        Conflict::InFlight => {
            "Dit verzoek wordt al verwerkt. Wacht even en probeer het dan opnieuw."
        }
        Conflict::ReissueNeeded => {
            "Deze QR-code werkt niet meer: er komt een nieuwe brief. Neem contact op met Stichting \
             Leergeld als u die niet krijgt."
        }
        Conflict::InDoubt => {
            "Dit verzoek is geboekt, maar het antwoord is niet bewaard. Kijk het saldo na \
             voordat u iets opnieuw doet."
        }
    })
}

fn token(e: &TokenError) -> &'static str {
    match e {
        TokenError::Prefix => "Dit is geen Kindpakket-code (hij begint niet met KP1:).",
        TokenError::Length => {
            "Deze code heeft niet de juiste lengte. Scan opnieuw of typ hem over."
        }
        TokenError::Alphabet => {
            "Deze code bevat tekens die er niet in horen. Controleer het overtypen."
        }
        TokenError::Padding => "Deze code is niet goed overgenomen. Scan opnieuw.",
        TokenError::Format | TokenError::Categories => "Deze code heeft een onbekende vorm.",
        TokenError::Signature => "Deze code is ongeldig. Scan opnieuw of typ hem over.",
    }
}

fn ledger_rule(r: &Rejection) -> &'static str {
    match r {
        Rejection::InsufficientBalance { .. } => "Er staat niet genoeg tegoed op deze rekening.",
        Rejection::Blocked(_) => "Dit tegoed is geblokkeerd.",
        Rejection::AlreadyIssued(_) => {
            "Voor dit kind is in deze regeling al een tegoed uitgegeven."
        }
        Rejection::AlreadyReversed(_) => "Deze betaling is al teruggedraaid.",
        Rejection::Closed(_) => "Deze rekening is gesloten.",
        Rejection::UnknownAccount(_) => "Deze rekening bestaat niet.",
        Rejection::Overflow => "Dit bedrag is te groot.",
        Rejection::UnknownTransfer(_) => "Deze betaling bestaat niet.",
        Rejection::UnknownDeposit(_) => "Deze storting bestaat niet (in deze regeling).",
        Rejection::CorrectionTooLarge(_) => {
            "De correctie is groter dan wat er van deze storting nog over is."
        }
        Rejection::WrongIndex { .. }
        | Rejection::TimeWentBack
        | Rejection::DuplicateId(_)
        | Rejection::Genesis
        | Rejection::Signer
        | Rejection::Key(_)
        | Rejection::AccountExists(_)
        | Rejection::InvalidAccount(_)
        | Rejection::InvalidTransfer(_)
        | Rejection::Opening(_)
        | Rejection::DuplicateCommitment => {
            "Dit kan niet: het past niet bij de regels voor het geld in dit systeem."
        }
    }
}

fn rule(r: &Rule) -> Text {
    match r {
        Rule::InsufficientBalance => s("Er staat niet genoeg op dit tegoed voor dit bedrag."),
        Rule::NothingLeft => s("Dit tegoed is op."),
        Rule::AmountAboveLimit { limit } => Cow::Owned(format!(
            "Dit bedrag is hoger dan het maximum van {limit} per boeking. Controleer het bedrag; \
             boek een groter bedrag in delen of vraag de beheerder om een hoger maximum."
        )),
        Rule::OwnAccount => s("U kunt uw eigen account niet uitzetten."),
        Rule::KeyRevoked => s(
            "Deze code is ingetrokken en werkt niet meer. Vraag de ouder om contact op te nemen \
             met Stichting Leergeld voor een nieuwe brief.",
        ),
        Rule::KeyRetired => s(
            "Deze code is vervangen door een nieuwe en werkt niet meer. Vraag de ouder om de \
             nieuwe brief van Stichting Leergeld.",
        ),
        Rule::WrongPassword => s("Uw huidige wachtwoord klopt niet."),
        Rule::WrongTotp => s(
            "Deze code klopt niet. Kijk of de tijd op uw telefoon goed staat en gebruik de \
             nieuwste code uit de app.",
        ),
        Rule::InsufficientFundBalance => {
            s("Er staat niet genoeg geld in de regeling. Laat eerst geld storten.")
        }
        Rule::VoucherBlocked => s(
            "Dit tegoed is geblokkeerd. Vraag de ouder om contact op te nemen met Stichting Leergeld.",
        ),
        Rule::VoucherExpired => s("Dit tegoed is verlopen."),
        Rule::VoucherNotYetValid { from } => Cow::Owned(format!(
            "Dit tegoed is te gebruiken vanaf {}.",
            crate::core::time::dutch_long(*from)
        )),
        Rule::TokenSuperseded => {
            s("Deze QR-code is vervangen door een nieuwe. Vraag naar de nieuwe code.")
        }
        Rule::Token(e) => s(token(e)),
        Rule::UnknownKey => s("Deze code is ondertekend met een sleutel die wij niet kennen."),
        Rule::UnknownVoucherToken => s(
            "Deze code is bij ons niet bekend. Vraag de ouder om de brief of de link van Stichting Leergeld.",
        ),
        Rule::ProviderNotApproved => {
            s("Deze aanbieder doet niet mee met de regeling van dit tegoed.")
        }
        Rule::ClubNotApproved => s("Uw club doet niet mee met de regeling van dit tegoed."),
        Rule::CategoryNotAllowed(c) => {
            Cow::Owned(format!("Dit tegoed mag niet aan {c} worden besteed."))
        }
        Rule::CategoryNotAllowedHere(c) => Cow::Owned(format!(
            "Dit tegoed mag bij deze club niet aan {c} worden besteed."
        )),
        Rule::CategoryNotInFund(c) => {
            Cow::Owned(format!("De soort {c} hoort niet bij deze regeling."))
        }
        Rule::CategoryNotOffered(c) => Cow::Owned(format!("Deze aanbieder biedt geen {c} aan.")),
        Rule::ChildNotEligible { max_age } => Cow::Owned(format!(
            "Dit kind is bij de start van de regeling ouder dan {max_age} jaar."
        )),
        Rule::NoChildEligible { max_age } => Cow::Owned(format!(
            "Geen van de kinderen is bij de start van de regeling {max_age} jaar of jonger."
        )),
        Rule::HouseholdErased => s("De gegevens van dit huishouden zijn gewist."),
        Rule::ChildErased => s("De gegevens van dit kind zijn gewist."),
        Rule::FundExpired => s("Deze regeling is afgelopen."),
        Rule::NoVoucher => s("Dit kind heeft in deze regeling (nog) geen tegoed."),
        Rule::TooManyReissues => s(
            "Dit tegoed heeft te vaak een nieuwe QR-code gekregen. Neem contact op met de beheerder.",
        ),
        Rule::TwoFactorOff => s(
            "Deze gebruiker heeft inloggen in twee stappen niet aan staan. Er valt niets te \
             deblokkeren; stel zo nodig alleen een nieuw wachtwoord in.",
        ),
        Rule::PasswordUnchanged => s(
            "Kies een ander wachtwoord dan het huidige: iemand anders kent het huidige \
             misschien.",
        ),
        Rule::KeyStillActive => s(
            "Deze sleutel is nog in gebruik. Vervang eerst de sleutel (keys rotate) of trek hem \
             in (keys revoke); geef daarna de tegoeden opnieuw uit.",
        ),
        Rule::IdempotencyConflict => s(
            "Deze betaling is al gedaan met andere gegevens. Begin opnieuw: scan de QR-code nog een keer.",
        ),
        Rule::Ledger(r) => s(ledger_rule(r)),
    }
}

/// The Dutch name of a field, as the forms label it.
fn field_label(field: &str) -> &str {
    match field {
        "name" => "naam",
        "sponsor" => "wie betaalt",
        "reference" => "kenmerk",
        "parent_name" => "naam van de ouder",
        "first_name" => "voornaam",
        "reason" => "reden",
        "description" => "omschrijving",
        other => other,
    }
}
