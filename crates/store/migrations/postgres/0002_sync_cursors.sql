-- Where each connection's change feed was last read (e.g. Okta's System Log
-- polling cursor), so a sync reads only what changed since.
CREATE TABLE sync_cursors (
    connection TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Event-hook deliveries already handled, by the vendor's delivery id, so a
-- delivery sent twice (at-least-once delivery) is handled once.
CREATE TABLE hook_deliveries (
    connection  TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (connection, event_id)
);
