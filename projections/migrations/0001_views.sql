-- The inbox views. Every table is a pure function of the event log up to
-- projector_position: dropping the file and replaying the log rebuilds it
-- row for row (Views.Verify checks exactly that). Times are UTC Unix
-- nanoseconds, so that they sort and compare as integers.

CREATE TABLE projector_position (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL CHECK (position >= 0)
) STRICT;

INSERT INTO projector_position (id, position) VALUES (1, 0);

CREATE TABLE profiles (
    id      TEXT PRIMARY KEY,
    blocked INTEGER NOT NULL DEFAULT 0 CHECK (blocked IN (0, 1))
) STRICT, WITHOUT ROWID;

-- Why a profile is blocked, mirroring domain.Profile.BlockedBy: '' for a
-- block by id, else the phone whose block blocked it. The profile stays
-- blocked while any cause remains.
CREATE TABLE profile_block_causes (
    profile_id TEXT NOT NULL REFERENCES profiles (id),
    cause      TEXT NOT NULL,
    PRIMARY KEY (profile_id, cause)
) STRICT, WITHOUT ROWID;

CREATE TABLE profile_phones (
    profile_id TEXT NOT NULL REFERENCES profiles (id),
    phone      TEXT NOT NULL,
    position   INTEGER NOT NULL, -- where the pair was first seen: orders the list
    PRIMARY KEY (profile_id, phone)
) STRICT, WITHOUT ROWID;

-- A ticket's internal key is the log position of its TicketOpened: it
-- grows with time, so the rows of the tickets that are busy now (and the
-- index entries of their messages and history) sit together at the end of
-- each b-tree, where a batch of events finds them, instead of being spread
-- over the whole file by their random UUIDs.
CREATE TABLE tickets (
    position        INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    profile_id      TEXT NOT NULL REFERENCES profiles (id),
    status          TEXT NOT NULL CHECK (status IN ('open', 'snoozed', 'closed')),
    assignee_id     TEXT,
    unread          INTEGER NOT NULL DEFAULT 0 CHECK (unread IN (0, 1)),
    snoozed_until   INTEGER,
    closed_at       INTEGER,
    close_reason    TEXT,
    last_message_at INTEGER NOT NULL,
    preview         TEXT NOT NULL DEFAULT '',
    message_count   INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The inbox lists walk these in (last_message_at, id) order, newest first,
-- so a page costs a range scan of its own length whatever the table's size.
CREATE INDEX tickets_by_status ON tickets (status, last_message_at, id);
CREATE INDEX tickets_by_assignee ON tickets (assignee_id, status, last_message_at, id);
CREATE INDEX tickets_by_profile ON tickets (profile_id, position);
-- Snoozes past their until count as open before their wake-up is written
-- (R4); this finds them without scanning every snoozed ticket.
CREATE INDEX tickets_snoozed_until ON tickets (snoozed_until, assignee_id) WHERE status = 'snoozed';

-- How many tickets each assignee ('' for none) has in each status, kept by
-- the triggers below, so that counting costs a read of a few rows rather
-- than a scan of every ticket. Rows never hold 0: the table is exactly
-- what a GROUP BY of tickets gives, however the events were batched.
CREATE TABLE ticket_counts (
    assignee_id TEXT NOT NULL,
    status      TEXT NOT NULL,
    n           INTEGER NOT NULL CHECK (n > 0),
    PRIMARY KEY (assignee_id, status)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER tickets_count_insert AFTER INSERT ON tickets BEGIN
    INSERT INTO ticket_counts (assignee_id, status, n) VALUES (coalesce(new.assignee_id, ''), new.status, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER tickets_count_update AFTER UPDATE OF status, assignee_id ON tickets
WHEN old.status IS NOT new.status OR old.assignee_id IS NOT new.assignee_id BEGIN
    DELETE FROM ticket_counts WHERE assignee_id = coalesce(old.assignee_id, '') AND status = old.status AND n = 1;
    UPDATE ticket_counts SET n = n - 1 WHERE assignee_id = coalesce(old.assignee_id, '') AND status = old.status;
    INSERT INTO ticket_counts (assignee_id, status, n) VALUES (coalesce(new.assignee_id, ''), new.status, 1)
        ON CONFLICT DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER tickets_count_delete AFTER DELETE ON tickets BEGIN
    DELETE FROM ticket_counts WHERE assignee_id = coalesce(old.assignee_id, '') AND status = old.status AND n = 1;
    UPDATE ticket_counts SET n = n - 1 WHERE assignee_id = coalesce(old.assignee_id, '') AND status = old.status;
END;

-- Messages still present. An erased inbound message has no row: its text
-- must not survive anywhere in the file.
CREATE TABLE messages (
    position  INTEGER PRIMARY KEY, -- of the event that added it
    ticket    INTEGER NOT NULL REFERENCES tickets (position),
    id        TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    body      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    author_id TEXT
) STRICT;

CREATE INDEX messages_by_ticket ON messages (ticket, position);

-- Every event that names a ticket, for auditors, clustered by ticket. data
-- never holds an inbound text, sealed or not.
-- The history index: which log positions belong to which ticket. The
-- events themselves are read from the log when an auditor asks, so the
-- views hold no second copy of them.
CREATE TABLE history (
    ticket   INTEGER NOT NULL, -- tickets.position
    position INTEGER NOT NULL,
    PRIMARY KEY (ticket, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE users (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX users_by_name ON users (name, id);
