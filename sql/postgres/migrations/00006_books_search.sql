-- Indexed search (GET /books?q=): pg_trgm GIN indexes on the ASCII-folded
-- title and author, the very expressions the query matches with LIKE, so the
-- database keeps them in step with the rows and the results are exactly
-- those of a scan (a GIN trigram index is lossy; PostgreSQL rechecks the
-- LIKE on every candidate). Queries of fewer than 3 characters have no
-- trigram to look up; the store scans for those, as before.
--
-- An extension belongs to the database, not to a schema: if pg_trgm is
-- already installed (in whichever schema), CREATE EXTENSION leaves it there,
-- so the operator class is named with the schema it is actually in rather
-- than through search_path. Otherwise it goes into the first schema of the
-- search_path, this one.
--
-- A small pending list (256 kB, the default is 4 MB): new rows wait there
-- until it fills or autovacuum runs, and every search reads all of it, so
-- the default would cost a search tens of milliseconds under a stream of
-- creates.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- +goose StatementBegin
DO $$
DECLARE
    trgm_schema text := (SELECT n.nspname FROM pg_extension e
                         JOIN pg_namespace n ON n.oid = e.extnamespace
                         WHERE e.extname = 'pg_trgm');
BEGIN
    -- title_key is lower(title COLLATE "C") (00001_init.sql).
    EXECUTE format('CREATE INDEX books_title_trgm ON books USING gin (title_key %I.gin_trgm_ops)
                    WITH (gin_pending_list_limit = 256)', trgm_schema);
    EXECUTE format('CREATE INDEX books_author_trgm ON books USING gin (lower(author COLLATE "C") %I.gin_trgm_ops)
                    WITH (gin_pending_list_limit = 256)', trgm_schema);
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP INDEX books_author_trgm;
DROP INDEX books_title_trgm;
