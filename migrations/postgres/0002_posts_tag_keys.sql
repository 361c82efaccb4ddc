-- Posts (where check-ins are expected) and the keys that sign their tags.

CREATE TABLE posts (
    community_id TEXT NOT NULL REFERENCES communities(id),
    id           TEXT NOT NULL,
    label_zh     TEXT NOT NULL,
    label_en     TEXT NOT NULL,
    building     TEXT,
    unit         TEXT,
    floor        BIGINT,
    lat          DOUBLE PRECISION,
    lon          DOUBLE PRECISION,
    radius_m     DOUBLE PRECISION,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (community_id, id)
);

CREATE TABLE tag_keys (
    community_id TEXT NOT NULL REFERENCES communities(id),
    id           TEXT NOT NULL,
    secret       BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    PRIMARY KEY (community_id, id)
);
