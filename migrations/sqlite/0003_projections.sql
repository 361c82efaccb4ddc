-- Projections: tables derived from documents for queries and reports. Kept up
-- to date in the transaction of every accepted change; rebuildable from the
-- documents with `fieldsync rebuild-projections`.

CREATE TABLE hazard_projection (
    community_id    TEXT NOT NULL,
    doc_id          TEXT NOT NULL,
    category        TEXT NOT NULL,
    severity        TEXT NOT NULL,
    state           TEXT NOT NULL,
    in_conflict     INTEGER NOT NULL,
    reporter        TEXT NOT NULL,
    reported_at     INTEGER NOT NULL,
    post_id         TEXT,
    assigned_person TEXT,
    deadline_at     INTEGER,
    event_count     INTEGER NOT NULL,
    PRIMARY KEY (community_id, doc_id)
);
CREATE INDEX hazard_projection_state ON hazard_projection(community_id, state);

CREATE TABLE patrol_projection (
    community_id  TEXT NOT NULL,
    doc_id        TEXT NOT NULL,
    team          TEXT NOT NULL,
    route         TEXT NOT NULL,
    started_by    TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER,
    checkin_count INTEGER NOT NULL,
    PRIMARY KEY (community_id, doc_id)
);

-- One row per check-in. `device_time` is the phone's clock, `received_at` the
-- server's when the check-in first arrived; both are kept because device
-- clocks lie.
CREATE TABLE checkin_projection (
    community_id TEXT NOT NULL,
    patrol_id    TEXT NOT NULL,
    checkin_id   TEXT NOT NULL,
    post_id      TEXT NOT NULL,
    member       TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    method       TEXT NOT NULL,
    device_time  INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    lat          REAL,
    lon          REAL,
    accuracy_m   REAL,
    status       TEXT NOT NULL,
    flag_reason  TEXT,
    PRIMARY KEY (community_id, patrol_id, checkin_id)
);
CREATE INDEX checkin_projection_post ON checkin_projection(community_id, post_id, device_time);
