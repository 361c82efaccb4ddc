-- The chunks an upload has received, each one object
-- (upload-parts/<upload_id>/<key>) in the blob object store every server
-- shares, so an upload started on one server resumes on another. A part is
-- recorded in the same transaction that moves the upload's offset.
CREATE TABLE upload_parts (
    upload_id  TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    start_at   BIGINT NOT NULL,
    end_at     BIGINT NOT NULL,
    object_key TEXT NOT NULL,
    PRIMARY KEY (upload_id, start_at)
);

-- The bytes of unfinished uploads were files on one server: they start again
-- from the beginning (a phone resumes from the offset HEAD reports, 0).
UPDATE uploads SET received = 0 WHERE blob_hash IS NULL;
