-- Credential logins (/auth/login). password_hash is an encoded argon2id hash,
-- never a password.
CREATE TABLE accounts (
    username      text        PRIMARY KEY,
    user_id       text        NOT NULL,
    password_hash text        NOT NULL,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- Refresh tokens by jti. A login starts a family; each refresh spends one
-- token (spent_at) and adds its successor. Revoking a family sets revoked_at
-- on all of its tokens. Deleting an account deletes its tokens.
CREATE TABLE refresh_tokens (
    id         text        PRIMARY KEY,
    family_id  text        NOT NULL,
    username   text        NOT NULL REFERENCES accounts (username) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    spent_at   timestamptz,
    revoked_at timestamptz
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_username ON refresh_tokens (username);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Token ids (jti) and session ids (sid) revoked before their tokens expire.
CREATE TABLE denied_tokens (
    id           text        PRIMARY KEY,
    denied_until timestamptz NOT NULL
);
