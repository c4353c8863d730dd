-- Settings: one JSON document per key.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Self-check reports: the whole report as JSON, with the columns the history lists.
CREATE TABLE selfcheck_reports (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    verdict    TEXT NOT NULL,
    warnings   INTEGER NOT NULL,
    blockers   INTEGER NOT NULL,
    report     TEXT NOT NULL
);

CREATE INDEX selfcheck_reports_created_at ON selfcheck_reports (created_at DESC);
