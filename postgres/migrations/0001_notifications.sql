-- Per-user sequence counters. last_seq only grows, so a seq is never handed
-- out twice, even after the notification that had it is deleted. Creating
-- holds the user's row lock until commit, so a user's notifications commit in
-- seq order.
CREATE TABLE user_seqs (
    user_id  text   PRIMARY KEY,
    last_seq bigint NOT NULL
);

-- data is json, not jsonb, so it comes back byte for byte as it was given.
-- read_at is NULL while the notification is unread.
CREATE TABLE notifications (
    id              uuid        PRIMARY KEY,
    user_id         text        NOT NULL,
    seq             bigint      NOT NULL,
    type            text        NOT NULL,
    title           text        NOT NULL,
    message         text        NOT NULL,
    link            text        NOT NULL,
    data            json,
    read_at         timestamptz,
    created_at      timestamptz NOT NULL,
    idempotency_key text,
    -- Pages and resumes walk a user's notifications by seq.
    CONSTRAINT notifications_user_seq UNIQUE (user_id, seq)
);

-- Idempotency keys are unique per user.
CREATE UNIQUE INDEX notifications_user_key ON notifications (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Unread counts and unread-only pages touch unread notifications only.
CREATE INDEX notifications_user_unread ON notifications (user_id, seq)
    WHERE read_at IS NULL;
