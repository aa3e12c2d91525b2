-- The append-only ledger. Entries hold their canonical bytes; the other columns are copies for
-- lookups, and `kindpakket verify` checks them against the bytes.
CREATE TABLE ledger_entries (
    idx      INTEGER PRIMARY KEY,
    entry_id BLOB    NOT NULL UNIQUE,
    kind     INTEGER NOT NULL,
    entry    BLOB    NOT NULL
);

-- RFC 6962 hashes of complete subtrees in the Go sumdb/tlog stored-hash layout.
CREATE TABLE ledger_hashes (
    idx  INTEGER PRIMARY KEY,
    hash BLOB    NOT NULL
);

-- Every signed checkpoint (C2SP tlog-checkpoint note), one per committed batch.
CREATE TABLE ledger_checkpoints (
    size INTEGER PRIMARY KEY,
    note TEXT    NOT NULL
);

-- The database itself refuses to change or remove ledger rows.
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE TRIGGER ledger_hashes_no_update BEFORE UPDATE ON ledger_hashes
BEGIN SELECT RAISE(ABORT, 'ledger_hashes is append-only'); END;
CREATE TRIGGER ledger_hashes_no_delete BEFORE DELETE ON ledger_hashes
BEGIN SELECT RAISE(ABORT, 'ledger_hashes is append-only'); END;
CREATE TRIGGER ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'ledger_checkpoints is append-only'); END;
CREATE TRIGGER ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'ledger_checkpoints is append-only'); END;
