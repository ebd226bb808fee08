-- Episodes: an anomaly row is one incident that detectors update in place (escalation, resolution), and
-- each alert delivery says which change of the episode it announces.
ALTER TABLE anomalies ADD COLUMN IF NOT EXISTS updated_at bigint NULL; -- unix milliseconds, wall clock; NULL = never changed since raised
ALTER TABLE anomalies ADD COLUMN IF NOT EXISTS occurrences integer NOT NULL DEFAULT 1;
ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS alert_type text NOT NULL DEFAULT 'anomaly.detected';
