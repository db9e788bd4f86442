-- The processes that count realtime connections (user_connections), with
-- when each last said it was alive (Unix microseconds). A node's id is new
-- for every process unless it is configured, so a node that crashed or
-- restarted never comes back to clear its connections itself: the others
-- forget the connections of a node not heard from for a while, and its
-- agents get the grace period to reconnect (P1).
CREATE TABLE nodes (
    node_id  TEXT PRIMARY KEY,
    seen_at  BIGINT NOT NULL
);
CREATE INDEX nodes_seen ON nodes(seen_at);
