-- The outbox: one row per planned delivery of a notification over email,
-- SMS, push or webhook, written in the notification's transaction. No foreign
-- key: a notification's deletion leaves its deliveries as a record, and the
-- claims cancel those still pending. lease_until is set while a worker holds
-- the row.
CREATE TABLE deliveries (
    id              uuid        PRIMARY KEY,
    notification_id uuid        NOT NULL,
    user_id         text        NOT NULL,
    type            text        NOT NULL,
    channel         text        NOT NULL,
    kind            text        NOT NULL,
    target          text        NOT NULL,
    unless_read     boolean     NOT NULL,
    status          text        NOT NULL,
    attempts        integer     NOT NULL,
    due_at          timestamptz NOT NULL,
    lease_until     timestamptz,
    last_error      text        NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    sent_at         timestamptz
);

-- Claims walk the live rows by due time.
CREATE INDEX deliveries_due ON deliveries (due_at, id) WHERE status IN ('pending', 'failed');
-- Metrics count live and dead rows.
CREATE INDEX deliveries_status ON deliveries (status) WHERE status IN ('pending', 'failed', 'dead');
-- The API lists a user's or a notification's deliveries, newest first.
CREATE INDEX deliveries_user ON deliveries (user_id, id);
CREATE INDEX deliveries_notification ON deliveries (notification_id);
-- Purges drop finished rows by age.
CREATE INDEX deliveries_finished ON deliveries (updated_at) WHERE status IN ('sent', 'cancelled', 'dead');

-- How each user wants to be reached. types is {"<type>": {"<channel>": bool}};
-- empty strings mean unset.
CREATE TABLE user_preferences (
    user_id        text        PRIMARY KEY,
    types          jsonb       NOT NULL,
    time_zone      text        NOT NULL,
    quiet_start    text        NOT NULL,
    quiet_end      text        NOT NULL,
    email          text        NOT NULL,
    phone          text        NOT NULL,
    webhook_url    text        NOT NULL,
    webhook_secret text        NOT NULL,
    updated_at     timestamptz NOT NULL
);

-- Browsers' push subscriptions; an endpoint belongs to one user at a time.
CREATE TABLE push_subscriptions (
    id         uuid        PRIMARY KEY,
    user_id    text        NOT NULL,
    endpoint   text        NOT NULL UNIQUE,
    p256dh     text        NOT NULL,
    auth       text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id, created_at);
