-- Mobile devices registered for push (FCM and APNs): a token belongs to one
-- user at a time. Times are microseconds since the Unix epoch, UTC.
CREATE TABLE devices (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    platform   TEXT    NOT NULL,
    token      TEXT    NOT NULL UNIQUE,
    app_id     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX devices_user ON devices (user_id, created_at);

-- A delivery keeps its notification's critical flag, for the providers'
-- priority (APNs apns-priority 10, FCM high).
ALTER TABLE deliveries ADD COLUMN critical INTEGER NOT NULL DEFAULT 0;
