-- Every reissue of a voucher, off the ledger (the ledger records the new generation): which key
-- signed the token that stopped working, so that Leergeld can list every household that needs a
-- new letter after a key rotation or revocation, however many runs the bulk reissue took.
CREATE TABLE voucher_reissues (
    voucher_id  UUID        NOT NULL REFERENCES vouchers (id),
    generation  BIGINT      NOT NULL,
    from_key_id BYTEA       NOT NULL,
    user_id     UUID,
    at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (voucher_id, generation)
);
CREATE INDEX voucher_reissues_from_key ON voucher_reissues (from_key_id);
