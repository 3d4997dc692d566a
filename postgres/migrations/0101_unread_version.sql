-- The version of each user's unread count: every change of the count adds
-- one in the statement that changes it, under the row's lock, so counts
-- published in any order, by any node, can be put back in commit order by
-- their version. Existing users start at 0.
ALTER TABLE user_seqs ADD COLUMN version bigint NOT NULL DEFAULT 0;
