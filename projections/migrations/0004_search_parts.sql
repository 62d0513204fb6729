-- The search index cut finer, and the messages' checks spelled so that a
-- batch's inserts run at full speed (docs/performance.md, "Search").

-- The checks are spelled with OR: an IN list of three or more made every
-- insert of a batch build a lookup table, and halved the views' speed
-- with small batches. SQLite cannot change a CHECK constraint in place,
-- so the table is made again; secure_delete zeroes the pages the old one
-- leaves.
CREATE TABLE messages_v4 (
    position      INTEGER PRIMARY KEY, -- of the event that added it
    ticket        INTEGER NOT NULL REFERENCES tickets (position),
    id            TEXT NOT NULL,
    direction     TEXT NOT NULL CHECK (direction = 'inbound' OR direction = 'outbound' OR direction = 'note'),
    body          TEXT NOT NULL,
    at            INTEGER NOT NULL,
    author_id     TEXT,
    status        TEXT CHECK (status = 'pending' OR status = 'sent' OR status = 'delivered' OR status = 'failed'),
    status_reason TEXT
) STRICT;

INSERT INTO messages_v4 (position, ticket, id, direction, body, at, author_id, status, status_reason)
    SELECT position, ticket, id, direction, body, at, author_id, status, status_reason FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v4 RENAME TO messages;
CREATE INDEX messages_by_ticket ON messages (ticket, position);

-- The search index (projections/search_index.go). Its terms are the
-- words of each ticket's profile id and phones and of each of its
-- messages still present, folded (lower case, no accents). The log's
-- positions are cut in buckets of 16384, each in four parts; for each
-- bucket, term and part, tickets lists the positions of the tickets there
-- that have the term (a count, then uvarint deltas): a batch of events
-- writes one row per term it meets rather than one per ticket and word,
-- and a row stays within a page. The key starts with the bucket, so that
-- what a batch writes, the newest tickets' words, sits together at the
-- end of the b-tree instead of all over it; a search seeks each bucket
-- once per word, for one range of terms (a word's prefix). A block
-- rewrites the rows of the words only the erased messages had, in the
-- transaction that deletes the messages, so the words of an erased text
-- are as gone from the file as the text itself. The rows of migration 3
-- are dropped and made again from the tables (projections/search_migrate.go).
DROP TABLE search_postings;
CREATE TABLE search_postings (
    bucket  INTEGER NOT NULL, -- ticket position >> 14
    term    TEXT NOT NULL,
    part    INTEGER NOT NULL, -- (ticket position >> 12) & 3
    tickets BLOB NOT NULL,
    PRIMARY KEY (bucket, term, part)
) STRICT, WITHOUT ROWID;
