-- Routes, rosters and their shifts, compliance per shift/post/window,
-- attendance, incidents and alerts: projections of documents, rebuildable
-- with `fieldsync rebuild-projections`. `body` holds the document as JSON.

CREATE TABLE route_projection (
    community_id TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    team         TEXT NOT NULL,
    name         TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (community_id, doc_id)
);

CREATE TABLE roster_projection (
    community_id TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    team         TEXT NOT NULL,
    week_of      TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (community_id, doc_id)
);

-- One row per shift; `shift_key` is "<roster doc id>/<shift id>".
CREATE TABLE shift_projection (
    community_id TEXT NOT NULL,
    shift_key    TEXT NOT NULL,
    roster_id    TEXT NOT NULL,
    team         TEXT NOT NULL,
    leader       TEXT NOT NULL,
    starts_at    INTEGER NOT NULL,
    ends_at      INTEGER NOT NULL,
    PRIMARY KEY (community_id, shift_key)
);
CREATE INDEX shift_projection_time ON shift_projection(community_id, ends_at);
CREATE INDEX shift_projection_roster ON shift_projection(community_id, roster_id);

CREATE TABLE compliance_projection (
    community_id  TEXT NOT NULL,
    shift_key     TEXT NOT NULL,
    route_id      TEXT NOT NULL,
    post_id       TEXT NOT NULL,
    window_start  INTEGER NOT NULL,
    deadline      INTEGER NOT NULL,
    grace_until   INTEGER NOT NULL,
    status        TEXT NOT NULL,
    checkin_id    TEXT,
    checked_at    INTEGER,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (community_id, shift_key, route_id, post_id, window_start)
);
CREATE INDEX compliance_projection_status ON compliance_projection(community_id, status, deadline);

CREATE TABLE attendance_projection (
    community_id TEXT NOT NULL,
    shift_key    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    signed_on    INTEGER,
    signed_off   INTEGER,
    PRIMARY KEY (community_id, shift_key, user_id)
);

CREATE TABLE incident_projection (
    community_id    TEXT NOT NULL,
    doc_id          TEXT NOT NULL,
    reporter        TEXT NOT NULL,
    occurred_at     INTEGER NOT NULL,
    reported_at     INTEGER NOT NULL,
    state           TEXT NOT NULL,
    acknowledged_at INTEGER,
    event_count     INTEGER NOT NULL,
    PRIMARY KEY (community_id, doc_id)
);

CREATE TABLE alert_projection (
    community_id TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    raised_at    INTEGER NOT NULL,
    recipients   TEXT NOT NULL,
    acked_at     INTEGER,
    PRIMARY KEY (community_id, doc_id)
);
CREATE UNIQUE INDEX alert_projection_subject ON alert_projection(community_id, kind, subject);
