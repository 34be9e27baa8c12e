-- Drift findings as last seen, so each check records what is new and what
-- was resolved (each an audit event) and metrics count what is open.
CREATE TABLE drift_findings (
    finding_key TEXT PRIMARY KEY,
    connection  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    details     TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    resolved_at TEXT
);

-- Plans that must be approved before they run (drift remediation in
-- `approval` mode), and who approved them.
CREATE TABLE plan_approvals (
    plan_id      TEXT PRIMARY KEY,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    reason       TEXT NOT NULL,
    approved_by  TEXT,
    approved_at  TEXT
);
