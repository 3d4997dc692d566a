-- The version of each user's unread count: every change of the count adds
-- one in its own transaction, so counts published in any order can be put
-- back in commit order by their version. Existing users start at 0.
ALTER TABLE user_seqs ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
