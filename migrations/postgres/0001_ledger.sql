-- The append-only ledger. Entries hold their canonical bytes; the other columns are copies for
-- lookups, and `kindpakket verify` checks them against the bytes.
CREATE TABLE ledger_entries (
    idx      BIGINT   PRIMARY KEY,
    entry_id UUID     NOT NULL UNIQUE,
    kind     SMALLINT NOT NULL,
    entry    BYTEA    NOT NULL
);

-- RFC 6962 hashes of complete subtrees in the Go sumdb/tlog stored-hash layout.
CREATE TABLE ledger_hashes (
    idx  BIGINT PRIMARY KEY,
    hash BYTEA  NOT NULL
);

-- Every signed checkpoint (C2SP tlog-checkpoint note), one per committed batch.
CREATE TABLE ledger_checkpoints (
    size BIGINT PRIMARY KEY,
    note TEXT   NOT NULL
);

-- The database itself refuses to change or remove ledger rows.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_hashes_append_only BEFORE UPDATE OR DELETE ON ledger_hashes
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_hashes_no_truncate BEFORE TRUNCATE ON ledger_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
