-- Detection: events remember whether they came from a webhook or a backfill import (webhook_lag and
-- webhook_silence ignore imports, also when replayed); anomalies get their own table. An anomaly's id
-- is derived from (tenant, mode, detector, subject, window start), so a replay inserts nothing new.
ALTER TABLE events ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS anomalies
(
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL,
    livemode     INTEGER NOT NULL,
    detector     TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    severity     INTEGER NOT NULL, -- 0 low, 1 medium, 2 high, 3 critical
    status       TEXT    NOT NULL DEFAULT 'open',
    title        TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    detected_at  INTEGER NOT NULL, -- unix seconds, event time
    window_start INTEGER NOT NULL,
    window_end   INTEGER NOT NULL,
    evidence     TEXT    NOT NULL,
    event_ids    TEXT    NOT NULL, -- JSON array
    raised_at    INTEGER NOT NULL, -- unix milliseconds, wall clock
    status_note  TEXT    NULL,
    status_by    TEXT    NULL,
    status_at    INTEGER NULL      -- unix milliseconds
);

CREATE INDEX IF NOT EXISTS ix_anomalies_detected ON anomalies (tenant_id, detected_at, id);
CREATE INDEX IF NOT EXISTS ix_anomalies_detector ON anomalies (tenant_id, detector, detected_at, id);
CREATE INDEX IF NOT EXISTS ix_anomalies_status ON anomalies (tenant_id, status, detected_at, id);
