-- The compliance engine's look for check-ins stored flagged, to alert who made them.
CREATE INDEX checkin_projection_flagged ON checkin_projection(community_id, received_at) WHERE status = 'flagged';
