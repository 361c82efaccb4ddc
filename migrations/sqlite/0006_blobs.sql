-- Photos: resumable uploads in progress (tus), content-addressed blobs, and
-- the documents that reference them. Times are UTC milliseconds.

-- An upload's bytes live in <data_dir>/uploads/<id> until it completes.
CREATE TABLE uploads (
    id              TEXT PRIMARY KEY,
    community_id    TEXT NOT NULL REFERENCES communities(id),
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    length          INTEGER NOT NULL,
    received        INTEGER NOT NULL DEFAULT 0,
    metadata        TEXT NOT NULL,
    declared_sha256 TEXT,
    -- Set when the upload completed: the blob it became, and whether its
    -- objects were written now ('new') or were there already ('existing').
    blob_hash       TEXT,
    stored_as       TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX uploads_updated ON uploads(updated_at);

-- One row per community that holds a blob; the objects themselves are
-- stored once per hash (sha256 of the uploaded bytes, hex).
CREATE TABLE blobs (
    community_id TEXT NOT NULL REFERENCES communities(id),
    hash         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    mime         TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (community_id, hash)
);
CREATE INDEX blobs_hash ON blobs(hash);

-- Documents that reference a blob. A link may precede the upload (the
-- document synced first), so there is no foreign key to blobs.
CREATE TABLE blob_links (
    community_id TEXT NOT NULL,
    hash         TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    PRIMARY KEY (community_id, hash, doc_id)
);
