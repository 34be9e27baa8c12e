-- Declared resources and group pushes grantflow went to create, written in
-- the transaction that records the creation's success: by_grantflow is 1
-- when grantflow's own call made it (then it may delete it once no file
-- declares it), 0 when it was already there (then it never deletes it).
-- A push is kind 'group_push', name its group, app its app; a resource has
-- app ''.
CREATE TABLE declared_objects (
    connection   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    app          TEXT NOT NULL,
    by_grantflow INTEGER NOT NULL,
    plan_id      TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (connection, kind, name, app)
);
