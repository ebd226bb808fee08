-- An episode's history: each opening, escalation and resolution by a detector and each status a person
-- set, in order, so the anomaly page can say what happened to it and who acted (repeats that change
-- nothing but the count are not history: occurrences counts them).
CREATE TABLE IF NOT EXISTS anomaly_history
(
    id         INTEGER PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    anomaly_id TEXT    NOT NULL,
    at         INTEGER NOT NULL, -- unix milliseconds, wall clock
    change     TEXT    NOT NULL, -- opened, escalated, resolved, acknowledged, false_positive
    severity   INTEGER NOT NULL,
    by         TEXT    NULL,     -- 'detector' or who set the status
    note       TEXT    NULL
);
CREATE INDEX IF NOT EXISTS ix_anomaly_history ON anomaly_history (tenant_id, anomaly_id, id);

-- Webhook deliveries refused for a known tenant, counted per UTC hour and reason (bad signature, bad body,
-- too large, rate limited, storage unavailable): the webhook health panel's "rejects by reason".
CREATE TABLE IF NOT EXISTS webhook_rejects
(
    tenant_id  TEXT    NOT NULL,
    hour_start INTEGER NOT NULL, -- unix seconds
    reason     TEXT    NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, hour_start, reason)
);
