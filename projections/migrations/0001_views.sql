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

CREATE TABLE tickets (
    id              TEXT PRIMARY KEY,
    profile_id      TEXT NOT NULL REFERENCES profiles (id),
    opened_position INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'snoozed', 'closed')),
    assignee_id     TEXT,
    unread          INTEGER NOT NULL DEFAULT 0 CHECK (unread IN (0, 1)),
    snoozed_until   INTEGER,
    closed_at       INTEGER,
    close_reason    TEXT,
    last_message_at INTEGER NOT NULL,
    preview         TEXT NOT NULL DEFAULT '',
    message_count   INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- The inbox lists walk these in (last_message_at, id) order, newest first,
-- so a page costs a range scan of its own length whatever the table's size.
CREATE INDEX tickets_by_status ON tickets (status, last_message_at, id);
CREATE INDEX tickets_by_assignee ON tickets (assignee_id, status, last_message_at, id);
CREATE INDEX tickets_by_profile ON tickets (profile_id, opened_position);
-- Snoozes past their until count as open before their wake-up is written
-- (R4); this finds them without scanning every snoozed ticket.
CREATE INDEX tickets_snoozed_until ON tickets (snoozed_until, assignee_id) WHERE status = 'snoozed';

-- Messages still present. An erased inbound message has no row: its text
-- must not survive anywhere in the file.
CREATE TABLE messages (
    position  INTEGER PRIMARY KEY, -- the log position of the event that added it
    id        TEXT NOT NULL UNIQUE,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    body      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    author_id TEXT
) STRICT;

CREATE INDEX messages_by_ticket ON messages (ticket_id, position);

-- Every event that names a ticket, for auditors. data never holds a
-- sealed inbound text nor its plaintext.
CREATE TABLE history (
    position  INTEGER PRIMARY KEY,
    ticket_id TEXT NOT NULL,
    type      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    data      TEXT NOT NULL
) STRICT;

CREATE INDEX history_by_ticket ON history (ticket_id, position);

CREATE TABLE users (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX users_by_name ON users (name, id);
