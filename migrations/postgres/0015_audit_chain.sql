-- The audit chain (docs/security.md#the-audit-chain): one entry per accepted
-- change set and per admin action, each holding the hash of the one before,
-- per community. The community row holds the chain's head, and appending
-- locks that row, so a chain never forks.
CREATE TABLE audit_chain (
    community_id TEXT NOT NULL REFERENCES communities(id),
    seq          BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    actor        TEXT NOT NULL,
    subject      TEXT NOT NULL,
    action       TEXT NOT NULL,
    detail       TEXT NOT NULL,
    prev         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    PRIMARY KEY (community_id, seq)
);
ALTER TABLE communities ADD COLUMN audit_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE communities ADD COLUMN audit_head TEXT NOT NULL DEFAULT '';
