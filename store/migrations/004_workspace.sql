-- The workspace's lists (issue 4) are newest first, paged by id, and ask
-- for one status at a time (web/workspace_views.go merges them). Measured
-- with 100,000 conversations (EXPLAIN QUERY PLAN, web/workspace_bench_test.go):
-- without these indexes a list of one status was answered from
-- conversations_ticket, where ticket_status = '' matches nearly every row,
-- followed by a sort of every match (USE TEMP B-TREE FOR ORDER BY), or by
-- a walk through a whole inbox: 250 ms to seconds per page. With them,
-- each status is one ordered index range that stops at the page size.

-- Lists over all of a person's inboxes (or all inboxes, for admins).
CREATE INDEX conversations_status_ticket ON conversations(status, ticket_status, id);

-- Lists of one inbox (the inbox filter, the live board).
CREATE INDEX conversations_inbox_status_ticket ON conversations(inbox_id, status, ticket_status, id);
