-- The event log's text keys compare byte by byte. Every insert descends four or five indexes keyed by
-- tenant id (and event id, type or account). Under a linguistic collation — a database created with
-- en_US.UTF-8, or an ICU one — each comparison is a collation library call; under "C" it is a memcmp.
-- Inserting the same rows took 1.3-1.5 x as long under ICU's en-US as under "C" (docs/PERFORMANCE.md);
-- glibc's C.UTF-8 was as fast as "C". These keys are ASCII identifiers, so equality is unchanged and their
-- order becomes the bytewise one SQLite already uses. Only the indexes are rebuilt (the table is not
-- rewritten); on a large event log this migration holds the table for as long as that takes, once.
ALTER TABLE events
    ALTER COLUMN tenant_id TYPE text COLLATE "C",
    ALTER COLUMN event_id TYPE text COLLATE "C",
    ALTER COLUMN type TYPE text COLLATE "C",
    ALTER COLUMN account TYPE text COLLATE "C";
