-- An episode's history: each opening, escalation and resolution by a detector and each status a person
-- set, in order, so the anomaly page can say what happened to it and who acted (repeats that change
-- nothing but the count are not history: occurrences counts them).
CREATE TABLE IF NOT EXISTS anomaly_history
(
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  text     NOT NULL,
    anomaly_id text     NOT NULL,
    at         bigint   NOT NULL, -- unix milliseconds, wall clock
    change     text     NOT NULL, -- opened, escalated, resolved, acknowledged, false_positive
    severity   integer  NOT NULL,
    by         text     NULL,     -- 'detector' or who set the status
    note       text     NULL
);
CREATE INDEX IF NOT EXISTS ix_anomaly_history ON anomaly_history (tenant_id, anomaly_id, id);

-- Webhook deliveries refused for a known tenant, counted per UTC hour and reason (bad signature, bad body,
-- too large, rate limited, storage unavailable): the webhook health panel's "rejects by reason".
CREATE TABLE IF NOT EXISTS webhook_rejects
(
    tenant_id  text    NOT NULL,
    hour_start bigint  NOT NULL, -- unix seconds
    reason     text    NOT NULL,
    count      bigint  NOT NULL,
    PRIMARY KEY (tenant_id, hour_start, reason)
);
