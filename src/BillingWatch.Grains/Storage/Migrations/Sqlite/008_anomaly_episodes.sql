-- Episodes: an anomaly row is one incident that detectors update in place (escalation, resolution), and
-- each alert delivery says which change of the episode it announces.
ALTER TABLE anomalies ADD COLUMN updated_at INTEGER NULL; -- unix milliseconds, wall clock; NULL = never changed since raised
ALTER TABLE anomalies ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alert_deliveries ADD COLUMN alert_type TEXT NOT NULL DEFAULT 'anomaly.detected';
