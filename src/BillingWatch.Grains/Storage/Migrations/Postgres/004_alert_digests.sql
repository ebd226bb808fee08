-- Optional daily digest per e-mail channel. alert_digests records which (channel, UTC day) digest was
-- taken by a sender, so several silos send each digest once.
ALTER TABLE alert_channels ADD COLUMN IF NOT EXISTS digest boolean NOT NULL DEFAULT false;

CREATE TABLE IF NOT EXISTS alert_digests
(
    channel_id text   NOT NULL,
    day        bigint NOT NULL, -- unix seconds of the UTC day's start
    sent_at    bigint NOT NULL, -- unix milliseconds
    PRIMARY KEY (channel_id, day)
);
