-- Each user's unread count, kept exact in the statement of every change that
-- moves it: creating adds the new notifications, marking read and deleting an
-- unread notification take them away. Reading the count is then one row
-- instead of a count over the user's unread notifications.
ALTER TABLE user_seqs ADD COLUMN unread bigint NOT NULL DEFAULT 0;

-- Databases written before the column existed start from their rows. The
-- ALTER above holds user_seqs locked until the migration commits, so no
-- create slips in between.
UPDATE user_seqs s SET unread = c.n
FROM (SELECT user_id, count(*) AS n FROM notifications WHERE read_at IS NULL GROUP BY user_id) c
WHERE s.user_id = c.user_id;
