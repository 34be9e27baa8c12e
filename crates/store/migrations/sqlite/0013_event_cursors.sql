-- Where each polled event feed has read up to (a Salesforce object's newest
-- CreatedDate seen), so a restarted worker neither misses nor repeats events.
-- `feed` names the connection and what is watched ("salesforce:Opportunity").
CREATE TABLE event_cursors (
    feed       TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
