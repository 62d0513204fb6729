-- A reply's delivery status (spec section 7): 'pending' from its ReplySent,
-- then what each ReplyStatusChanged says. Inbound messages have none.
-- status_reason is set only for 'failed'.
ALTER TABLE messages ADD COLUMN status TEXT
    CHECK (status IN ('pending', 'sent', 'delivered', 'failed'));
ALTER TABLE messages ADD COLUMN status_reason TEXT;

-- The replies already applied are pending: no build before this one wrote
-- a ReplyStatusChanged. A file that an older build kept while a newer one
-- already wrote them (a rolling upgrade) lost those changes when it
-- skipped them: `ticketctl views rebuild` replays them.
UPDATE messages SET status = 'pending' WHERE direction = 'outbound';
