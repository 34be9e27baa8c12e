-- The newest rate-limit budget any worker has seen per connection and
-- bucket, so several worker processes schedule against one budget.
CREATE TABLE rate_budgets (
    connection TEXT NOT NULL,
    bucket     TEXT NOT NULL,
    budget     BIGINT NOT NULL,
    remaining  BIGINT NOT NULL,
    reset_ms   BIGINT NOT NULL,
    PRIMARY KEY (connection, bucket)
);
