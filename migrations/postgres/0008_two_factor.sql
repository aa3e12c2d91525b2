-- Two-factor log-in (TOTP, RFC 6238). The secret is set at enrolment and counts once the user
-- confirmed it with a code (totp_enabled_at); totp_last_step is the last step a code was
-- accepted for, so that a code is good once.
ALTER TABLE users ADD COLUMN totp_secret BYTEA;
ALTER TABLE users ADD COLUMN totp_enabled_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- Recovery codes: single use; only their SHA-256 is stored.
CREATE TABLE recovery_codes (
    user_id   UUID NOT NULL REFERENCES users (id),
    code_hash BYTEA NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);
