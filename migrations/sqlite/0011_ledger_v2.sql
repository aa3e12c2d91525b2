-- Ledger format v2: a voucher's ledger account is random and unrelated to the voucher id in its
-- token, and appears on the ledger only as fresh commitments. The token generation moves off
-- the ledger. (No v1 ledger was ever deployed; the service refuses to read one.)
ALTER TABLE vouchers ADD COLUMN account_id BLOB;
ALTER TABLE vouchers ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX vouchers_account ON vouchers (account_id);

-- How a redemption was authorised, off the public ledger: the token's key, generation and the
-- SHA-256 of the token (never the token). Empty for direct payments.
ALTER TABLE redemptions ADD COLUMN token_key_id BLOB;
ALTER TABLE redemptions ADD COLUMN token_generation INTEGER;
ALTER TABLE redemptions ADD COLUMN token_digest BLOB;

-- The openings of the voucher commitments of each entry (salt and account id, 32 bytes per
-- commitment, in the entry's slot order), written in the same transaction as the entry.
-- No public endpoint serves this table; the full audit checks every opening.
CREATE TABLE ledger_openings (
    idx      INTEGER PRIMARY KEY,
    openings BLOB    NOT NULL
);
CREATE TRIGGER ledger_openings_no_update BEFORE UPDATE ON ledger_openings
BEGIN SELECT RAISE(ABORT, 'ledger_openings is append-only'); END;
CREATE TRIGGER ledger_openings_no_delete BEFORE DELETE ON ledger_openings
BEGIN SELECT RAISE(ABORT, 'ledger_openings is append-only'); END;
