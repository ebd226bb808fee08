-- Alert silences: for a time, the alerts of matching anomalies are recorded as silenced deliveries
-- instead of being sent. released_at marks a silence whose end the dispatcher has handled (it then
-- sends what is still open), so that happens once.
CREATE TABLE IF NOT EXISTS alert_silences
(
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant_id   TEXT    NOT NULL,
    starts_at   INTEGER NOT NULL, -- unix milliseconds
    ends_at     INTEGER NOT NULL, -- unix milliseconds
    detectors   TEXT    NULL,     -- JSON array; NULL means every detector
    livemode    INTEGER NULL,     -- NULL means both modes
    account     TEXT    NULL,     -- NULL means every account
    comment     TEXT    NOT NULL,
    created_by  TEXT    NULL,
    created_at  INTEGER NOT NULL, -- unix milliseconds
    released_at INTEGER NULL      -- unix milliseconds
);

CREATE INDEX IF NOT EXISTS ix_alert_silences_tenant ON alert_silences (tenant_id, ends_at);
CREATE INDEX IF NOT EXISTS ix_alert_silences_unreleased ON alert_silences (ends_at) WHERE released_at IS NULL;

ALTER TABLE alert_deliveries ADD COLUMN silence_id TEXT NULL;
CREATE INDEX IF NOT EXISTS ix_alert_deliveries_silence ON alert_deliveries (silence_id) WHERE silence_id IS NOT NULL;
