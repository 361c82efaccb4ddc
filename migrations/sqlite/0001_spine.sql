-- Communities, accounts, devices, tokens, and documents stored as automerge chunks.
-- All times are UTC milliseconds since the epoch.

CREATE TABLE communities (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    time_zone   TEXT NOT NULL DEFAULT 'Asia/Shanghai',
    change_seq  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    community_id  TEXT NOT NULL REFERENCES communities(id),
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

CREATE TABLE devices (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(id),
    community_id     TEXT NOT NULL REFERENCES communities(id),
    name             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    last_login_at    INTEGER NOT NULL,
    revoked_at       INTEGER,
    token_generation INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE device_actors (
    actor_id    TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL REFERENCES devices(id),
    created_at  INTEGER NOT NULL
);
CREATE INDEX device_actors_device ON device_actors(device_id);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL REFERENCES devices(id),
    generation  INTEGER NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX refresh_tokens_device ON refresh_tokens(device_id);

CREATE TABLE documents (
    community_id   TEXT NOT NULL REFERENCES communities(id),
    id             TEXT NOT NULL,
    doc_type       TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    seq            INTEGER NOT NULL,
    heads          BLOB NOT NULL,
    stored_bytes   INTEGER NOT NULL,
    chunk_count    INTEGER NOT NULL,
    last_device_id TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (community_id, id)
);
CREATE INDEX documents_seq ON documents(community_id, seq);

CREATE TABLE document_chunks (
    chunk_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    community_id TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    data         BLOB NOT NULL
);
CREATE INDEX document_chunks_doc ON document_chunks(community_id, doc_id, chunk_id);

CREATE TABLE server_secrets (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
);
