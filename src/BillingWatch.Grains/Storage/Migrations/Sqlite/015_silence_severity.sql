-- A silence may hold alerts up to a severity only (NULL: every severity); a more severe alert of a matching
-- anomaly still goes out, and then neither its resolution nor the silence's end sends what it held.
ALTER TABLE alert_silences ADD COLUMN max_severity TEXT NULL;

CREATE INDEX IF NOT EXISTS ix_alert_deliveries_anomaly ON alert_deliveries (anomaly_id, channel_id);
