-- Projections: tables derived from documents for queries and reports. Kept up
-- to date in the transaction of every accepted change; rebuildable from the
-- documents with `fieldsync rebuild-projections`.

CREATE TABLE hazard_projection (
    community_id    TEXT NOT NULL,
    doc_id          TEXT NOT NULL,
    category        TEXT NOT NULL,
    severity        TEXT NOT NULL,
    state           TEXT NOT NULL,
    in_conflict     BOOLEAN NOT NULL,
    reporter        TEXT NOT NULL,
    reported_at     BIGINT NOT NULL,
    post_id         TEXT,
    assigned_person TEXT,
    deadline_at     BIGINT,
    event_count     BIGINT NOT NULL,
    PRIMARY KEY (community_id, doc_id)
);
CREATE INDEX hazard_projection_state ON hazard_projection(community_id, state);

CREATE TABLE patrol_projection (
    community_id  TEXT NOT NULL,
    doc_id        TEXT NOT NULL,
    team          TEXT NOT NULL,
    route         TEXT NOT NULL,
    started_by    TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    ended_at      BIGINT,
    checkin_count BIGINT NOT NULL,
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
    device_time  BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    lat          DOUBLE PRECISION,
    lon          DOUBLE PRECISION,
    accuracy_m   DOUBLE PRECISION,
    status       TEXT NOT NULL,
    flag_reason  TEXT,
    PRIMARY KEY (community_id, patrol_id, checkin_id)
);
CREATE INDEX checkin_projection_post ON checkin_projection(community_id, post_id, device_time);
