-- What Leergeld decided about a voucher-signing key, off the ledger (the ledger records that a
-- key was added and retired): until when tokens of a rotated-out key are still accepted, and
-- whether the key was revoked after a compromise (its tokens refused at once).
CREATE TABLE voucher_key_status (
    key_id       BYTEA PRIMARY KEY,
    accept_until DATE,
    revoked_at   TIMESTAMPTZ
);
