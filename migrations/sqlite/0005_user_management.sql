-- A disabled user cannot log in and has no sessions.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
