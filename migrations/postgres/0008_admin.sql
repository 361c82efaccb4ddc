-- The office's administration: every write through the admin API is recorded
-- here (who, from which device, what, on what, with which details).

CREATE TABLE admin_audit (
    id           BIGSERIAL PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities(id),
    at           BIGINT NOT NULL,
    user_id      TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    action       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX admin_audit_community ON admin_audit(community_id, id);
CREATE INDEX devices_user ON devices(user_id);
