-- "Waiting since" and the inbox sorted by longest waiting (docs/api.md).

-- When the customer began to wait for an answer: the time of the first
-- inbound message after the team's last reply or the ticket's last close,
-- NULL while nothing waits (the last word was the team's, or the ticket
-- is closed). Notes, snoozes and erasures leave it as it is.
ALTER TABLE tickets ADD COLUMN waiting_since INTEGER;

-- The tickets a file already holds wait from their first inbound message
-- after their last reply. The views keep no trace of a close that a
-- customer's message undid, so a ticket reopened since its last reply
-- counts from the first message after that reply rather than from the
-- one that reopened it, until its next reply; `ticketctl views rebuild`
-- makes those exact (docs/operations.md, "Upgrading").
UPDATE tickets SET waiting_since = (
    SELECT min(m.at) FROM messages AS m
    WHERE m.ticket = tickets.position AND m.direction = 'inbound'
      AND m.position > coalesce((SELECT max(r.position) FROM messages AS r
                                 WHERE r.ticket = tickets.position AND r.direction = 'outbound'), 0))
WHERE status != 'closed';

-- The waiting sort's key: the tickets that wait, longest first, then
-- those that do not, newest activity first, so that each status is one
-- ascending range of one index whatever the mix. Every time is below 2^62
-- ns (the year 2116): waiting times stay below 2^62, the others above.
-- Computed, never written, it cannot drift from the columns it reads.
ALTER TABLE tickets ADD COLUMN wait_key INTEGER GENERATED ALWAYS AS (
    CASE WHEN waiting_since IS NULL THEN 9223372036854775807 - max(last_message_at, 0) ELSE waiting_since END
) VIRTUAL;

CREATE INDEX tickets_by_wait ON tickets (status, wait_key, id);
CREATE INDEX tickets_by_assignee_wait ON tickets (assignee_id, status, wait_key, id);
