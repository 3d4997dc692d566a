-- Per-user sequence counters. last_seq only grows, so a seq is never handed
-- out twice, even after the notification that had it is deleted.
CREATE TABLE user_seqs (
    user_id  TEXT    NOT NULL PRIMARY KEY,
    last_seq INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Times are microseconds since the Unix epoch, UTC. read_at is NULL while the
-- notification is unread.
CREATE TABLE notifications (
    id              TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    type            TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    message         TEXT    NOT NULL,
    link            TEXT    NOT NULL,
    data            TEXT,
    read_at         INTEGER,
    created_at      INTEGER NOT NULL,
    idempotency_key TEXT
) STRICT;

-- Pages and resumes walk a user's notifications by seq.
CREATE UNIQUE INDEX notifications_user_seq ON notifications (user_id, seq);

-- Idempotency keys are unique per user.
CREATE UNIQUE INDEX notifications_user_key ON notifications (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Unread counts and unread-only pages touch unread notifications only.
CREATE INDEX notifications_user_unread ON notifications (user_id, seq)
    WHERE read_at IS NULL;
