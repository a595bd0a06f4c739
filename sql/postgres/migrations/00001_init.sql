-- The initial schema, the PostgreSQL twin of sql/sqlite/migrations/00001_init.sql:
-- the same tables and rules in native types (UUID, TIMESTAMPTZ, BOOLEAN,
-- BYTEA). The adapter writes timestamps truncated to whole milliseconds, as
-- SQLite stores them, so both engines round-trip the same instants and page
-- cursors (which carry unix milliseconds) match stored values exactly.
--
-- Case-insensitivity: SQLite's NOCASE folds ASCII letters only and then
-- compares bytes. lower(x COLLATE "C") does exactly that in PostgreSQL, on
-- any database locale (the C collation lowers ASCII only), and a COLLATE "C"
-- column compares bytes. The folded keys are stored as generated columns, so
-- the unique index, the ORDER BY and the keyset condition all name one plain
-- column: a query cannot miss the index by spelling the expression slightly
-- differently, and no expression is evaluated per row while paging.

-- +goose Up
CREATE TABLE users (
    id            UUID        NOT NULL PRIMARY KEY,
    username      TEXT        NOT NULL,
    -- lower(username): unique, looked up and ordered case-insensitively.
    username_key  TEXT        COLLATE "C" NOT NULL GENERATED ALWAYS AS (lower(username COLLATE "C")) STORED,
    password_hash TEXT        NOT NULL,
    admin         BOOLEAN     NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE UNIQUE INDEX users_username_key ON users (username_key);

CREATE TABLE sessions (
    id           UUID        NOT NULL PRIMARY KEY,
    user_id      UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    user_agent   TEXT        NOT NULL DEFAULT '',
    ip           TEXT        NOT NULL DEFAULT ''
);

CREATE INDEX sessions_user_id ON sessions (user_id);

-- Refresh tokens are stored as hashes only. A spent token stays (with
-- spent_at) so that presenting it again is recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash BYTEA       NOT NULL PRIMARY KEY,
    session_id UUID        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    spent_at   TIMESTAMPTZ
);

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE books (
    id             UUID        NOT NULL PRIMARY KEY,
    owner_id       UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title          TEXT        NOT NULL,
    -- lower(title): the title sort key (see the top of this file).
    title_key      TEXT        COLLATE "C" NOT NULL GENERATED ALWAYS AS (lower(title COLLATE "C")) STORED,
    author         TEXT        NOT NULL,
    publisher      TEXT        NOT NULL,
    price_cents    BIGINT      NOT NULL,
    isbn           TEXT,
    published_year INTEGER,
    version        BIGINT      NOT NULL DEFAULT 1,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

-- An ISBN is unique within one owner's catalogue; books without one are not
-- constrained.
CREATE UNIQUE INDEX books_owner_isbn ON books (owner_id, isbn) WHERE isbn IS NOT NULL;

-- Keyset paging of one owner's books: one index per sort order, ending in id
-- (the tie-breaker), so a page is an index range scan (backward for the
-- descending orders) with no sort step. They also serve the owner_id foreign
-- key (ON DELETE CASCADE).
CREATE INDEX books_owner_title      ON books (owner_id, title_key, id);
CREATE INDEX books_owner_created_at ON books (owner_id, created_at, id);
CREATE INDEX books_owner_price      ON books (owner_id, price_cents, id);
-- The exact-author filter; the expression must match internal/postgres's.
CREATE INDEX books_owner_author     ON books (owner_id, lower(author COLLATE "C"));

-- The same orders across every owner (the admin listing).
CREATE INDEX books_title      ON books (title_key, id);
CREATE INDEX books_created_at ON books (created_at, id);
CREATE INDEX books_price      ON books (price_cents, id);

-- Idempotency-Key of a create: the request fingerprint and the book it made.
-- book_id is deliberately not a foreign key: the key must outlive a deleted
-- book so that a retry is told so instead of creating the book again.
CREATE TABLE idempotency_keys (
    owner_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key         TEXT        NOT NULL,
    fingerprint BYTEA       NOT NULL,
    book_id     UUID        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (owner_id, key)
);

-- Expiry deletes the oldest keys first.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

CREATE TABLE signing_keys (
    kid        TEXT        NOT NULL PRIMARY KEY,
    alg        TEXT        NOT NULL,
    secret     BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ
);

CREATE TABLE server_secrets (
    name       TEXT        NOT NULL PRIMARY KEY,
    value      BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE server_secrets;
DROP TABLE signing_keys;
DROP TABLE idempotency_keys;
DROP TABLE books;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
