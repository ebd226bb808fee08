-- Alert channels and the alert outbox. Deliveries are inserted in the transaction that stores their
-- anomaly; a dispatcher leases due rows (lease_owner, lease_until) and records each attempt.
CREATE TABLE IF NOT EXISTS alert_channels
(
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    target         TEXT    NOT NULL, -- secret: a URL that may carry a token, or an e-mail address
    signing_secret TEXT    NULL,     -- secret: webhook channels only
    min_severity   INTEGER NOT NULL,
    detectors      TEXT    NULL,     -- JSON array; NULL means every detector
    livemode       INTEGER NULL,     -- NULL means both modes
    created_at     INTEGER NOT NULL  -- unix milliseconds
);

CREATE INDEX IF NOT EXISTS ix_alert_channels_tenant ON alert_channels (tenant_id, created_at, id);

CREATE TABLE IF NOT EXISTS alert_deliveries
(
    id               TEXT    NOT NULL PRIMARY KEY,
    tenant_id        TEXT    NOT NULL,
    channel_id       TEXT    NOT NULL,
    anomaly_id       TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER NULL,
    last_error       TEXT    NULL,
    next_attempt_at  INTEGER NOT NULL, -- unix milliseconds
    created_at       INTEGER NOT NULL, -- unix milliseconds
    delivered_at     INTEGER NULL,
    lease_owner      TEXT    NULL,
    lease_until      INTEGER NULL      -- unix milliseconds
);

CREATE INDEX IF NOT EXISTS ix_alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS ix_alert_deliveries_tenant ON alert_deliveries (tenant_id, created_at, id);
CREATE INDEX IF NOT EXISTS ix_alert_deliveries_channel ON alert_deliveries (channel_id, status);
