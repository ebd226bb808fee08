-- Import sessions: a backfill sent as any number of NDJSON chunks, held here until it completes and then
-- imported in event-time order as one, so that splitting a backfill never changes what detectors see.
CREATE TABLE IF NOT EXISTS import_sessions
(
    id             TEXT    NOT NULL PRIMARY KEY,
    tenant_id      TEXT    NOT NULL,
    state          TEXT    NOT NULL, -- open, importing, completed, failed, abandoned
    created_at     BIGINT  NOT NULL, -- unix milliseconds
    updated_at     BIGINT  NOT NULL, -- unix milliseconds
    lines          BIGINT NOT NULL DEFAULT 0,
    accepted       BIGINT NOT NULL DEFAULT 0,
    duplicates     BIGINT NOT NULL DEFAULT 0,
    rejected_count BIGINT NOT NULL DEFAULT 0,
    rejected       TEXT    NOT NULL DEFAULT '[]' -- the first 1,000 rejections, JSON
);
CREATE INDEX IF NOT EXISTS ix_import_sessions_tenant ON import_sessions (tenant_id, created_at);

CREATE TABLE IF NOT EXISTS import_lines
(
    session_id TEXT    NOT NULL,
    line_no    BIGINT  NOT NULL,
    created    BIGINT  NOT NULL,
    event_id   TEXT    COLLATE "C" NOT NULL,
    payload    BYTEA   NOT NULL,
    PRIMARY KEY (session_id, line_no)
);
CREATE INDEX IF NOT EXISTS ix_import_lines_order ON import_lines (session_id, created, event_id, line_no);
