-- Notifications a user does not see in the app (in_app switched off for the
-- type) are stored read and silent: they serve the deliveries over other
-- channels, and are never pushed, replayed or listed.
ALTER TABLE notifications ADD COLUMN silent INTEGER NOT NULL DEFAULT 0;
