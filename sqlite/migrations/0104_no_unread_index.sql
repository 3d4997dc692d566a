-- The partial index of unread notifications cost every create one more
-- b-tree page written to the WAL at commit, about a third of a create's work
-- on this single-writer database. Counts come from user_seqs.unread; unread
-- pages and mark-all-read walk the user's notifications by (user_id, seq)
-- instead, which a user's inbox keeps short. (PostgreSQL keeps its index.)
DROP INDEX notifications_user_unread;
