-- Two-factor log-in (TOTP, RFC 6238). The secret is set at enrolment and counts once the user
-- confirmed it with a code (totp_enabled_at); totp_last_step is the last step a code was
-- accepted for, so that a code is good once.
ALTER TABLE users ADD COLUMN totp_secret BLOB;
ALTER TABLE users ADD COLUMN totp_enabled_at TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

-- Recovery codes: single use; only their SHA-256 is stored.
CREATE TABLE recovery_codes (
    user_id   BLOB NOT NULL REFERENCES users (id),
    code_hash BLOB NOT NULL,
    used_at   TEXT,
    PRIMARY KEY (user_id, code_hash)
);
