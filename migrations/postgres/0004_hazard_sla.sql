-- Hazard deadlines (by severity, or the assignment's) and recurrence links.
ALTER TABLE hazard_projection ADD COLUMN due_at BIGINT;
ALTER TABLE hazard_projection ADD COLUMN recurring_of TEXT;
CREATE INDEX hazard_projection_place ON hazard_projection(community_id, post_id, category, reported_at);
