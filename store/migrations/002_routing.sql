-- Routing (issue 3): offers, transfers, deadlines and connection counts.
-- Same conventions as 001: {{pk}} is the dialect's key column, times are Unix
-- microseconds.

-- Pending offers and inbound transfer requests count against capacity, next
-- to active_chats; missed_offers counts the offers that expired in a row
-- (missed_at: when the last did), a streak a presence change ends.
ALTER TABLE users ADD COLUMN offered_chats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN missed_offers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN missed_at BIGINT NOT NULL DEFAULT 0;

-- queued_at: when the conversation joined its inbox's queue (NULL: not yet
-- admitted by the router, or no longer queued); the queue is served in
-- (queued_at, id) order. skip_user_id: the agent who last declined or let an
-- offer of it expire, tried last next time.
ALTER TABLE conversations ADD COLUMN queued_at BIGINT;
ALTER TABLE conversations ADD COLUMN skip_user_id BIGINT;
CREATE INDEX conversations_queue ON conversations(queued_at, id) WHERE status = 'waiting' AND ticket_status = '';

-- The queue position last told to each waiting customer (R8), kept apart
-- from the busy conversations rows.
CREATE TABLE queue_positions (
    conversation_id  BIGINT PRIMARY KEY REFERENCES conversations(id),
    position         INTEGER NOT NULL
);

-- The agents who may get a chat, in the order the router prefers them
-- (least loaded, then longest without a new chat): the router walks this
-- index and stops at the first member of the inbox with room.
CREATE INDEX users_available ON users((active_chats + offered_chats), last_assigned_at, id)
    WHERE presence = 'online' AND operator AND NOT disabled;

CREATE TABLE offers (
    id               {{pk}},
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id),
    inbox_id         BIGINT NOT NULL,
    user_id          BIGINT NOT NULL REFERENCES users(id),
    state            TEXT NOT NULL DEFAULT 'pending',
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    resolved_at      BIGINT NOT NULL DEFAULT 0
);
-- A conversation is offered to one agent at a time, enforced by the database.
CREATE UNIQUE INDEX offers_one_pending ON offers(conversation_id) WHERE state = 'pending';
CREATE INDEX offers_user_pending ON offers(user_id, id) WHERE state = 'pending';
CREATE INDEX offers_conversation ON offers(conversation_id, id);

CREATE TABLE transfers (
    id               {{pk}},
    conversation_id  BIGINT NOT NULL REFERENCES conversations(id),
    inbox_id         BIGINT NOT NULL,
    from_user_id     BIGINT NOT NULL REFERENCES users(id),
    to_user_id       BIGINT NOT NULL REFERENCES users(id),
    note             TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL DEFAULT 'pending',
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    resolved_at      BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX transfers_one_pending ON transfers(conversation_id) WHERE state = 'pending';
CREATE INDEX transfers_to_pending ON transfers(to_user_id, id) WHERE state = 'pending';
CREATE INDEX transfers_conversation ON transfers(conversation_id, id);

-- Deadlines still to fire: offer and transfer expiry, inactivity completion,
-- presence grace. Firing deletes the row in the transaction that acts on it,
-- so each fires once; PostgreSQL nodes claim rows with SKIP LOCKED.
CREATE TABLE deadlines (
    id      {{pk}},
    kind    TEXT NOT NULL,
    ref_id  BIGINT NOT NULL,
    due_at  BIGINT NOT NULL,
    UNIQUE (kind, ref_id)
);
CREATE INDEX deadlines_due ON deadlines(due_at, id);

-- Open realtime connections per node and user, so that presence follows
-- connections across nodes (P1).
CREATE TABLE user_connections (
    node_id  TEXT NOT NULL,
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conns    INTEGER NOT NULL,
    PRIMARY KEY (user_id, node_id)
);
CREATE INDEX user_connections_node ON user_connections(node_id);
