-- Account lifecycle (issues 9 and 15); the PostgreSQL twin of
-- sql/sqlite/migrations/00004_credentials.sql, which explains both columns.

-- +goose Up
ALTER TABLE users ADD COLUMN credential_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN auth_time TIMESTAMPTZ;
UPDATE sessions SET auth_time = created_at;
ALTER TABLE sessions ALTER COLUMN auth_time SET NOT NULL;

-- +goose Down
ALTER TABLE sessions DROP COLUMN auth_time;
ALTER TABLE users DROP COLUMN credential_version;
