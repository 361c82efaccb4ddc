-- The dashboard's hazard ledger pages newest first: (reported_at, doc_id)
-- descending, from a cursor, so a page reads its rows and no more.
CREATE INDEX hazard_projection_ledger ON hazard_projection(community_id, reported_at, doc_id);
