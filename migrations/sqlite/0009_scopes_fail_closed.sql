-- Read scopes fail closed: a document whose scope is NULL (or does not
-- parse) is readable by the office and auditors only. Until now NULL meant
-- "the whole community", which places and notes are on purpose: give them
-- the empty scope, which says so. Other documents stored before scopes
-- existed (0007) get theirs from `fieldsync rebuild-projections`.

UPDATE documents SET scope = '{}' WHERE scope IS NULL AND doc_type IN ('places', 'note');
