-- The outbox: one row per planned delivery of a notification over email,
-- SMS, push or webhook, written in the notification's transaction. No foreign
-- key: a notification's deletion leaves its deliveries as a record, and the
-- claims cancel those still pending. Times are microseconds since the Unix
-- epoch, UTC; lease_until is set while a worker holds the row.
CREATE TABLE deliveries (
    id              TEXT    NOT NULL PRIMARY KEY,
    notification_id TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    unless_read     INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    due_at          INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    sent_at         INTEGER
) STRICT;

-- Claims walk the live rows by due time.
CREATE INDEX deliveries_due ON deliveries (due_at, id) WHERE status IN ('pending', 'failed');
-- Metrics count live and dead rows.
CREATE INDEX deliveries_status ON deliveries (status) WHERE status IN ('pending', 'failed', 'dead');
-- The API lists a user's or a notification's deliveries, newest first.
CREATE INDEX deliveries_user ON deliveries (user_id, id);
CREATE INDEX deliveries_notification ON deliveries (notification_id);
-- Purges drop finished rows by age.
CREATE INDEX deliveries_finished ON deliveries (updated_at) WHERE status IN ('sent', 'cancelled', 'dead');

-- How each user wants to be reached. types is a JSON object of
-- {"<type>": {"<channel>": true|false}}; empty strings mean unset.
CREATE TABLE user_preferences (
    user_id        TEXT    NOT NULL PRIMARY KEY,
    types          TEXT    NOT NULL,
    time_zone      TEXT    NOT NULL,
    quiet_start    TEXT    NOT NULL,
    quiet_end      TEXT    NOT NULL,
    email          TEXT    NOT NULL,
    phone          TEXT    NOT NULL,
    webhook_url    TEXT    NOT NULL,
    webhook_secret TEXT    NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Browsers' push subscriptions; an endpoint belongs to one user at a time.
CREATE TABLE push_subscriptions (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    endpoint   TEXT    NOT NULL UNIQUE,
    p256dh     TEXT    NOT NULL,
    auth       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id, created_at);
