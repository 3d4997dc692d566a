-- Topics: durable groups of users notified at once. Members are kept by
-- topic, in user id order, so a fan-out walks them with a cursor.
CREATE TABLE topic_members (
    topic    text        NOT NULL,
    user_id  text        NOT NULL,
    added_at timestamptz NOT NULL,
    PRIMARY KEY (topic, user_id)
);

-- A notification sent to a topic, stored before the send is acknowledged.
-- Each chunk of its fan-out creates the members' copies and moves after_user
-- (the last member served) in one transaction, under the row's lock, so a
-- restarted fan-out resumes after the last chunk that committed and two nodes
-- never serve one chunk twice.
CREATE TABLE topic_sends (
    id              uuid        PRIMARY KEY,
    topic           text        NOT NULL,
    idempotency_key text,
    type            text        NOT NULL,
    title           text        NOT NULL,
    message         text        NOT NULL,
    link            text        NOT NULL,
    data            json,
    critical        boolean     NOT NULL,
    members         integer     NOT NULL,
    delivered       integer     NOT NULL,
    after_user      text        NOT NULL,
    status          text        NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- Idempotency keys are unique per topic.
CREATE UNIQUE INDEX topic_sends_key ON topic_sends (topic, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Workers find the sends still fanning out.
CREATE INDEX topic_sends_pending ON topic_sends (created_at) WHERE status = 'pending';
