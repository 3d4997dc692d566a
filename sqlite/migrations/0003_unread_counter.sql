-- Each user's unread count, kept exact in the transaction of every change
-- that moves it: creating adds the new notifications, marking read and
-- deleting an unread notification take them away. Reading the count is then
-- one row instead of a count over the user's unread notifications.
ALTER TABLE user_seqs ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;

-- Databases written before the column existed start from their rows.
UPDATE user_seqs SET unread = (
    SELECT count(*) FROM notifications n
    WHERE n.user_id = user_seqs.user_id AND n.read_at IS NULL
);
