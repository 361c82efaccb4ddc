-- The dashboard reads check-ins and patrols by time (the night so far, a
-- patrol's rounds, a shift's drill-down) over years of rows: index them so.
CREATE INDEX checkin_projection_time ON checkin_projection(community_id, device_time);
CREATE INDEX patrol_projection_started ON patrol_projection(community_id, started_at);
