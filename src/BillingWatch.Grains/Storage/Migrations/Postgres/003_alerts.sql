-- Alert channels and the alert outbox. Deliveries are inserted in the transaction that stores their
-- anomaly; a dispatcher leases due rows (lease_owner, lease_until) and records each attempt.
CREATE TABLE IF NOT EXISTS alert_channels
(
    id             text    COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id      text    NOT NULL,
    kind           text    NOT NULL,
    name           text    NOT NULL,
    target         text    NOT NULL, -- secret: a URL that may carry a token, or an e-mail address
    signing_secret text    NULL,     -- secret: webhook channels only
    min_severity   smallint NOT NULL,
    detectors      text    NULL,     -- JSON array; NULL means every detector
    livemode       boolean NULL,     -- NULL means both modes
    created_at     bigint NOT NULL  -- unix milliseconds
);

CREATE INDEX IF NOT EXISTS ix_alert_channels_tenant ON alert_channels (tenant_id, created_at, id);

CREATE TABLE IF NOT EXISTS alert_deliveries
(
    id               text    COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id        text    NOT NULL,
    channel_id       text    NOT NULL,
    anomaly_id       text    NOT NULL,
    status           text    NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    last_status_code integer NULL,
    last_error       text    NULL,
    next_attempt_at  bigint NOT NULL, -- unix milliseconds
    created_at       bigint NOT NULL, -- unix milliseconds
    delivered_at     bigint NULL,
    lease_owner      text    NULL,
    lease_until      bigint NULL      -- unix milliseconds
);

CREATE INDEX IF NOT EXISTS ix_alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS ix_alert_deliveries_tenant ON alert_deliveries (tenant_id, created_at, id);
CREATE INDEX IF NOT EXISTS ix_alert_deliveries_channel ON alert_deliveries (channel_id, status);
