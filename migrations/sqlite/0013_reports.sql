-- Reports (docs/reports.md): the times a hazard was last rectified and was
-- closed, who acknowledged an alert first, whose check-in decided a post's
-- window, the indexes the periods' queries
-- use, and the reports the server issued, kept as they were issued. The new
-- projection columns fill in on the next write of each document, or at once
-- with `fieldsync rebuild-projections`.
ALTER TABLE hazard_projection ADD COLUMN rectified_at INTEGER;
ALTER TABLE hazard_projection ADD COLUMN closed_at INTEGER;
ALTER TABLE alert_projection ADD COLUMN acked_by TEXT;
-- Whose check-in decided a post's window (the duty assessment counts by it).
ALTER TABLE compliance_projection ADD COLUMN decided_by TEXT;
CREATE INDEX hazard_projection_reported ON hazard_projection(community_id, reported_at);
CREATE INDEX incident_projection_occurred ON incident_projection(community_id, occurred_at);
CREATE INDEX alert_projection_raised ON alert_projection(community_id, raised_at);
CREATE INDEX shift_projection_start ON shift_projection(community_id, starts_at);
CREATE INDEX checkin_projection_id ON checkin_projection(community_id, checkin_id);

CREATE TABLE issued_reports (
    community_id TEXT NOT NULL,
    -- `daily`, `weekly` or `monthly`.
    kind         TEXT NOT NULL,
    -- The shift key, the Thursday (`YYYY-MM-DD`) or the month (`YYYY-MM`).
    period       TEXT NOT NULL,
    issued_at    INTEGER NOT NULL,
    -- sha256 of `body`, hex.
    sha256       TEXT NOT NULL,
    -- The report as issued, JSON.
    body         TEXT NOT NULL,
    PRIMARY KEY (community_id, kind, period)
);
