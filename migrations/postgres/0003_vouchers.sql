-- Funds (regelingen). The id is also the fund's ledger account id.
CREATE TABLE funds (
    id                     UUID    PRIMARY KEY,
    name                   TEXT    NOT NULL,
    sponsor                TEXT    NOT NULL,
    valid_from             DATE    NOT NULL,
    valid_until            DATE    NOT NULL,
    categories             BIGINT NOT NULL,
    amount_per_child_cents BIGINT NOT NULL CHECK (amount_per_child_cents > 0),
    max_age_years          BIGINT NOT NULL,
    pooling                TEXT    NOT NULL CHECK (pooling IN ('child', 'household')),
    expired_at             TIMESTAMPTZ,
    created_at             TIMESTAMPTZ    NOT NULL
);

-- Households and children: personal data, never on the ledger; erasable.
CREATE TABLE households (
    id              UUID    PRIMARY KEY,
    reference       TEXT,
    parent_name     TEXT,
    email           TEXT,
    phone           TEXT,
    link_generation BIGINT NOT NULL DEFAULT 0,
    link_hash       BYTEA    UNIQUE,
    erased_at       TIMESTAMPTZ,
    created_at      TIMESTAMPTZ    NOT NULL
);
CREATE UNIQUE INDEX households_reference ON households (reference) WHERE reference IS NOT NULL;

CREATE TABLE children (
    id           UUID PRIMARY KEY,
    household_id UUID NOT NULL REFERENCES households (id),
    position     BIGINT NOT NULL,
    first_name   TEXT,
    birth_date   DATE,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX children_household ON children (household_id);

-- Providers (aanbieders) and their approval per fund. account_id is the provider's ledger
-- account for that fund.
CREATE TABLE providers (
    id         UUID    PRIMARY KEY,
    name       TEXT    NOT NULL,
    kvk        TEXT    NOT NULL,
    iban       TEXT    NOT NULL,
    categories BIGINT NOT NULL,
    created_at TIMESTAMPTZ    NOT NULL
);

CREATE TABLE fund_providers (
    fund_id     UUID    NOT NULL REFERENCES funds (id),
    provider_id UUID    NOT NULL REFERENCES providers (id),
    account_id  UUID    NOT NULL UNIQUE,
    categories  BIGINT NOT NULL,
    approved_at TIMESTAMPTZ    NOT NULL,
    PRIMARY KEY (fund_id, provider_id)
);

-- Vouchers: one per child (or per household for pooled funds) per fund. The id is the ledger
-- account id; balance, status and generation live on the ledger.
CREATE TABLE vouchers (
    id           UUID    PRIMARY KEY,
    fund_id      UUID    NOT NULL REFERENCES funds (id),
    household_id UUID    NOT NULL REFERENCES households (id),
    child_id     UUID    REFERENCES children (id),
    token        TEXT    NOT NULL,
    expires_at   BIGINT NOT NULL,
    created_at   TIMESTAMPTZ    NOT NULL
);
CREATE UNIQUE INDEX vouchers_child ON vouchers (fund_id, child_id) WHERE child_id IS NOT NULL;
CREATE UNIQUE INDEX vouchers_household ON vouchers (fund_id, household_id) WHERE child_id IS NULL;
CREATE INDEX vouchers_household_id ON vouchers (household_id);

-- Redemptions and direct payments; the id is the ledger entry id.
CREATE TABLE redemptions (
    id           UUID    PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('redeem', 'direct_payment')),
    voucher_id   UUID    NOT NULL REFERENCES vouchers (id),
    provider_id  UUID    NOT NULL REFERENCES providers (id),
    fund_id      UUID    NOT NULL REFERENCES funds (id),
    amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
    category     TEXT    NOT NULL,
    description  TEXT,
    user_id      UUID    NOT NULL,
    entry_index  BIGINT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ    NOT NULL
);
CREATE INDEX redemptions_voucher ON redemptions (voucher_id);
CREATE INDEX redemptions_provider ON redemptions (provider_id, created_at);

CREATE TABLE reversals (
    redemption_id UUID    PRIMARY KEY REFERENCES redemptions (id),
    entry_index   BIGINT NOT NULL UNIQUE,
    reason        TEXT,
    user_id       UUID    NOT NULL,
    created_at    TIMESTAMPTZ    NOT NULL
);

-- Free text that belongs with a ledger entry but must not be on it (references, reasons).
CREATE TABLE entry_notes (
    entry_index BIGINT PRIMARY KEY,
    note        TEXT,
    user_id     UUID,
    created_at  TIMESTAMPTZ NOT NULL
);

-- Idempotency keys: claimed before any work, then completed with the stored response.
CREATE TABLE idempotency_keys (
    scope           TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    fingerprint     BYTEA    NOT NULL,
    resource_id     UUID    NOT NULL,
    response_status BIGINT,
    response_body   TEXT,
    created_at      TIMESTAMPTZ    NOT NULL,
    PRIMARY KEY (scope, key)
);
