-- Credential logins (/auth/login). password_hash is an encoded argon2id hash,
-- never a password. Times are microseconds since the Unix epoch, UTC.
CREATE TABLE accounts (
    username      TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

-- Refresh tokens by jti. A login starts a family; each refresh spends one
-- token (spent_at) and adds its successor. Revoking a family sets revoked_at
-- on all of its tokens. Deleting an account deletes its tokens.
CREATE TABLE refresh_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    family_id  TEXT    NOT NULL,
    username   TEXT    NOT NULL REFERENCES accounts (username) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER,
    revoked_at INTEGER
) STRICT;

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_username ON refresh_tokens (username);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Token ids (jti) and session ids (sid) revoked before their tokens expire.
CREATE TABLE denied_tokens (
    id            TEXT    NOT NULL PRIMARY KEY,
    denied_until  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
