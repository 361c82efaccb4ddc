-- Posts (where check-ins are expected) and the keys that sign their tags.

CREATE TABLE posts (
    community_id TEXT NOT NULL REFERENCES communities(id),
    id           TEXT NOT NULL,
    label_zh     TEXT NOT NULL,
    label_en     TEXT NOT NULL,
    building     TEXT,
    unit         TEXT,
    floor        INTEGER,
    lat          REAL,
    lon          REAL,
    radius_m     REAL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (community_id, id)
);

CREATE TABLE tag_keys (
    community_id TEXT NOT NULL REFERENCES communities(id),
    id           TEXT NOT NULL,
    secret       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    PRIMARY KEY (community_id, id)
);
