-- Topics: durable groups of users notified at once. Members are kept by
-- topic, in user id order, so a fan-out walks them with a cursor.
CREATE TABLE topic_members (
    topic    TEXT    NOT NULL,
    user_id  TEXT    NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (topic, user_id)
) STRICT, WITHOUT ROWID;

-- A notification sent to a topic, stored before the send is acknowledged.
-- Each chunk of its fan-out creates the members' copies and moves after_user
-- (the last member served) in one transaction, so a restarted fan-out
-- resumes after the last chunk that committed. Times are microseconds since
-- the Unix epoch, UTC.
CREATE TABLE topic_sends (
    id              TEXT    NOT NULL PRIMARY KEY,
    topic           TEXT    NOT NULL,
    idempotency_key TEXT,
    type            TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    message         TEXT    NOT NULL,
    link            TEXT    NOT NULL,
    data            TEXT,
    critical        INTEGER NOT NULL,
    members         INTEGER NOT NULL,
    delivered       INTEGER NOT NULL,
    after_user      TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

-- Idempotency keys are unique per topic.
CREATE UNIQUE INDEX topic_sends_key ON topic_sends (topic, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Workers find the sends still fanning out.
CREATE INDEX topic_sends_pending ON topic_sends (created_at) WHERE status = 'pending';
