-- People who log in: Leergeld staff, auditors, provider managers and cashiers.
CREATE TABLE users (
    id            BLOB    PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL,
    provider_id   BLOB,
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL
);

-- Login sessions; only the SHA-256 of the bearer token is stored.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
