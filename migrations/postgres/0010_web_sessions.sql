-- Dashboard sign-ins: one row per browser session. The cookie holds a random
-- token; only its sha256 is kept here. Each session is a device of its user
-- (`devices`), so revoking the device or disabling the user ends it, and
-- what the user does there is attributed to that device.

CREATE TABLE web_sessions (
    token_hash   TEXT PRIMARY KEY,
    community_id TEXT NOT NULL REFERENCES communities(id),
    user_id      TEXT NOT NULL REFERENCES users(id),
    device_id    TEXT NOT NULL REFERENCES devices(id),
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
