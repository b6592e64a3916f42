-- Part 7: the daemon.

-- Retention finds posts whose text is due to be blanked without walking the
-- history it already blanked.
CREATE INDEX posts_retention_idx ON posts ((COALESCE(published_at, fetched_at)))
    WHERE text_purged_at IS NULL;

-- The daemons running against this database, kept fresh by a heartbeat, so
-- `brandpulse status` can say who holds a lease and whether it is alive.
CREATE TABLE daemon_instances (
    instance     text        PRIMARY KEY CHECK (instance <> ''),
    hostname     text        NOT NULL,
    pid          integer     NOT NULL,
    version      text        NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    -- Set by a clean shutdown; NULL while running (or after a crash).
    stopped_at   timestamptz
);
