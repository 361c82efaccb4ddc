-- Read scopes: teams and their grid, users' team and grids, posts' grid, and
-- each document's scope (JSON of `DocScope`; NULL = the whole community).

CREATE TABLE teams (
    community_id TEXT NOT NULL REFERENCES communities(id),
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    grid_id      TEXT,
    PRIMARY KEY (community_id, id)
);

ALTER TABLE users ADD COLUMN team_id TEXT;
ALTER TABLE users ADD COLUMN grids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE posts ADD COLUMN grid_id TEXT;
ALTER TABLE documents ADD COLUMN scope TEXT;
