-- Alert silences: for a time, the alerts of matching anomalies are recorded as silenced deliveries
-- instead of being sent. released_at marks a silence whose end a dispatcher has handled (it then
-- sends what is still open), so that happens once across silos.
CREATE TABLE IF NOT EXISTS alert_silences
(
    id          text    COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id   text    NOT NULL,
    starts_at   bigint  NOT NULL, -- unix milliseconds
    ends_at     bigint  NOT NULL, -- unix milliseconds
    detectors   text    NULL,     -- JSON array; NULL means every detector
    livemode    boolean NULL,     -- NULL means both modes
    account     text    NULL,     -- NULL means every account
    comment     text    NOT NULL,
    created_by  text    NULL,
    created_at  bigint  NOT NULL, -- unix milliseconds
    released_at bigint  NULL      -- unix milliseconds
);

CREATE INDEX IF NOT EXISTS ix_alert_silences_tenant ON alert_silences (tenant_id, ends_at);
CREATE INDEX IF NOT EXISTS ix_alert_silences_unreleased ON alert_silences (ends_at) WHERE released_at IS NULL;

ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS silence_id text NULL;
CREATE INDEX IF NOT EXISTS ix_alert_deliveries_silence ON alert_deliveries (silence_id) WHERE silence_id IS NOT NULL;
