-- API tokens: created by an administrator, shown once, kept only as the
-- SHA-256 of their secret, expiring and revocable. Roles are a JSON array of
-- role names ("admin", "operator:okta").
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    roles        TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    expires_ms   BIGINT NOT NULL,
    revoked_at   TEXT,
    last_used_ms BIGINT
);
CREATE INDEX api_tokens_by_created ON api_tokens (created_ms, id);

-- Listing plans newest first, page by page.
CREATE INDEX plans_by_created ON plans (created_ms, id);
