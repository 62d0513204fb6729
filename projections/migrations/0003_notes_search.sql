-- Spec section 8: internal notes among a ticket's messages, and search.

-- A note is a message of direction 'note', with its author, and no
-- delivery status. SQLite cannot change a CHECK constraint in place, so
-- the table is made again; secure_delete zeroes the pages the old one
-- leaves.
CREATE TABLE messages_v3 (
    position      INTEGER PRIMARY KEY, -- of the event that added it
    ticket        INTEGER NOT NULL REFERENCES tickets (position),
    id            TEXT NOT NULL,
    direction     TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'note')),
    body          TEXT NOT NULL,
    at            INTEGER NOT NULL,
    author_id     TEXT,
    status        TEXT CHECK (status IN ('pending', 'sent', 'delivered', 'failed')),
    status_reason TEXT
) STRICT;

INSERT INTO messages_v3 (position, ticket, id, direction, body, at, author_id, status, status_reason)
    SELECT position, ticket, id, direction, body, at, author_id, status, status_reason FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v3 RENAME TO messages;
CREATE INDEX messages_by_ticket ON messages (ticket, position);

-- The search index (projections/search_index.go). Its terms are the
-- words of each ticket's profile id and phones and of each of its
-- messages still present, folded (lower case, no accents). For each
-- bucket of 16384 log positions and each term, tickets lists the positions
-- of the bucket's tickets that have the term (uvarint deltas, in order):
-- a batch of events writes one row per term it meets rather than one per
-- ticket and word. The key starts with the bucket, so that what a batch
-- writes, the newest tickets' words, sits together at the end of the
-- b-tree instead of all over it; a search reads a word's rows bucket by
-- bucket, each one range of terms (a word's prefix). A block rewrites the
-- rows of the words only the erased messages had, in the transaction
-- that deletes the messages, so the words of an erased text are as gone
-- from the file as the text itself.
CREATE TABLE search_postings (
    bucket  INTEGER NOT NULL, -- ticket position >> 14
    term    TEXT NOT NULL,
    tickets BLOB NOT NULL,
    PRIMARY KEY (bucket, term)
) STRICT, WITHOUT ROWID;
