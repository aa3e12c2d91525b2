-- Wrong two-factor codes in a row since the last right one (counted before each check, so
-- parallel guesses cannot all pass): past 10 only a recovery code works, past 20 nothing until
-- an admin resets two-factor log-in.
ALTER TABLE users ADD COLUMN totp_failures BIGINT NOT NULL DEFAULT 0;
