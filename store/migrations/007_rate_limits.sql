-- Rate limits shared by every node (app.SharedLimiter, used on PostgreSQL):
-- failed logins and token checks per account and per client address, new
-- widget visitors per address. Same conventions as 001: times are Unix
-- microseconds.
--
-- One row per limited key, written only when an attempt is counted. The
-- token bucket is kept as its "theoretical arrival time" (GCRA): tat is when
-- the bucket will be full again, so a bucket of Burst attempts, one back
-- every Every, has Burst - (tat - now) / Every attempts left, and a row whose
-- tat has passed is a full bucket, the same as no row: pruning deletes those
-- (tat <= now) whatever their limit. key is the limit's name and a hash of
-- what is limited (an address, an e-mail), never the thing itself.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);

CREATE INDEX rate_limits_tat ON rate_limits(tat);
