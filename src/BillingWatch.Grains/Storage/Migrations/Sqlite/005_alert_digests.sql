-- Optional daily digest per e-mail channel. alert_digests records which (channel, UTC day) digest was
-- taken by a sender, so several silos send each digest once.
ALTER TABLE alert_channels ADD COLUMN digest INTEGER NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS alert_digests
(
    channel_id TEXT    NOT NULL,
    day        INTEGER NOT NULL, -- unix seconds of the UTC day's start
    sent_at    INTEGER NOT NULL, -- unix milliseconds
    PRIMARY KEY (channel_id, day)
);
