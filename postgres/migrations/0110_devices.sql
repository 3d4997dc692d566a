-- Mobile devices registered for push (FCM and APNs): a token belongs to one
-- user at a time.
CREATE TABLE devices (
    id         uuid        PRIMARY KEY,
    user_id    text        NOT NULL,
    platform   text        NOT NULL,
    token      text        NOT NULL UNIQUE,
    app_id     text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX devices_user ON devices (user_id, created_at);

-- A delivery keeps its notification's critical flag, for the providers'
-- priority (APNs apns-priority 10, FCM high).
ALTER TABLE deliveries ADD COLUMN critical boolean NOT NULL DEFAULT false;
