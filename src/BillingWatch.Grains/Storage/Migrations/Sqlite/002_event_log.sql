-- The append-only event log. seq is per tenant, assigned by the tenant's single grain activation,
-- increasing in arrival order (gaps are allowed); payload is the raw body exactly as received.
CREATE TABLE IF NOT EXISTS events
(
    id          INTEGER PRIMARY KEY,
    tenant_id   TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    event_id    TEXT    NOT NULL,
    livemode    INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    created     INTEGER NOT NULL, -- unix seconds, event time
    received_at INTEGER NOT NULL, -- unix milliseconds, arrival time
    payload     BLOB    NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS ux_events_seq ON events (tenant_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS ux_events_event_id ON events (tenant_id, event_id, livemode);
CREATE INDEX IF NOT EXISTS ix_events_created ON events (tenant_id, created, seq);
CREATE INDEX IF NOT EXISTS ix_events_type_created ON events (tenant_id, type, created, seq);

-- The admin listing of tenants; the tenant grain's state is the authority and keeps this in step.
CREATE TABLE IF NOT EXISTS tenants
(
    id            TEXT NOT NULL PRIMARY KEY,
    name          TEXT NOT NULL,
    webhook_token TEXT NOT NULL,
    created_at    INTEGER NOT NULL -- unix milliseconds
);
