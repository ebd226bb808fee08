-- The append-only event log, with the same semantics as the SQLite one: seq per tenant assigned by the
-- tenant's single grain activation, unique (tenant, event id, livemode), payload exactly as received.
-- No surrogate key: (tenant_id, seq) is the primary key, one index fewer to maintain on every insert.
CREATE TABLE IF NOT EXISTS events
(
    tenant_id   text    NOT NULL,
    seq         bigint  NOT NULL,
    event_id    text    NOT NULL,
    livemode    boolean NOT NULL,
    type        text    NOT NULL,
    created     bigint  NOT NULL, -- unix seconds, event time
    received_at bigint  NOT NULL, -- unix milliseconds, arrival time
    imported    boolean NOT NULL DEFAULT false,
    payload     bytea   NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE UNIQUE INDEX IF NOT EXISTS ux_events_event_id ON events (tenant_id, event_id, livemode);
CREATE INDEX IF NOT EXISTS ix_events_created ON events (tenant_id, created, seq);
CREATE INDEX IF NOT EXISTS ix_events_type_created ON events (tenant_id, type, created, seq);

-- The admin listing of tenants; the tenant grain's state is the authority and keeps this in step.
CREATE TABLE IF NOT EXISTS tenants
(
    id            text   NOT NULL PRIMARY KEY,
    name          text   NOT NULL,
    webhook_token text   NOT NULL,
    created_at    bigint NOT NULL -- unix milliseconds
);

-- Anomalies: the id is derived from (tenant, mode, detector, subject, window start), so a replay
-- inserts nothing new.
CREATE TABLE IF NOT EXISTS anomalies
(
    id           text     COLLATE "C" NOT NULL PRIMARY KEY, -- bytewise order, as in SQLite, for cursors
    tenant_id    text     NOT NULL,
    livemode     boolean  NOT NULL,
    detector     text     NOT NULL,
    subject      text     NOT NULL,
    severity     smallint NOT NULL, -- 0 low, 1 medium, 2 high, 3 critical
    status       text     NOT NULL DEFAULT 'open',
    title        text     NOT NULL,
    message      text     NOT NULL,
    detected_at  bigint   NOT NULL, -- unix seconds, event time
    window_start bigint   NOT NULL,
    window_end   bigint   NOT NULL,
    evidence     text     NOT NULL,
    event_ids    text     NOT NULL, -- JSON array
    raised_at    bigint   NOT NULL, -- unix milliseconds, wall clock
    status_note  text     NULL,
    status_by    text     NULL,
    status_at    bigint   NULL      -- unix milliseconds
);

CREATE INDEX IF NOT EXISTS ix_anomalies_detected ON anomalies (tenant_id, detected_at, id);
CREATE INDEX IF NOT EXISTS ix_anomalies_detector ON anomalies (tenant_id, detector, detected_at, id);
CREATE INDEX IF NOT EXISTS ix_anomalies_status ON anomalies (tenant_id, status, detected_at, id);
