-- The initial schema. Every table is STRICT, so a value of the wrong type is
-- an error rather than silently stored. Ids are UUID text; timestamps are
-- INTEGER unix milliseconds (exact, and they sort); booleans are 0/1.

-- +goose Up
CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    -- NOCASE makes the UNIQUE constraint, lookups and ordering case-insensitive.
    username      TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT    NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    user_agent   TEXT    NOT NULL DEFAULT '',
    ip           TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id);

-- Refresh tokens are stored as hashes only. A spent token stays (with
-- spent_at) so that presenting it again is recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash BLOB    NOT NULL PRIMARY KEY,
    session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    spent_at   INTEGER
) STRICT;

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE books (
    id             TEXT    NOT NULL PRIMARY KEY,
    owner_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NOCASE: titles sort and authors filter case-insensitively.
    title          TEXT    NOT NULL COLLATE NOCASE,
    author         TEXT    NOT NULL COLLATE NOCASE,
    publisher      TEXT    NOT NULL,
    price_cents    INTEGER NOT NULL,
    isbn           TEXT,
    published_year INTEGER,
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

-- An ISBN is unique within one owner's catalogue; books without one are not
-- constrained.
CREATE UNIQUE INDEX books_owner_isbn ON books (owner_id, isbn) WHERE isbn IS NOT NULL;

-- Keyset paging of one owner's books: one index per sort order, ending in id
-- (the tie-breaker), so a page is an index range scan with no sort step.
CREATE INDEX books_owner_title      ON books (owner_id, title, id);
CREATE INDEX books_owner_created_at ON books (owner_id, created_at, id);
CREATE INDEX books_owner_price      ON books (owner_id, price_cents, id);
CREATE INDEX books_owner_author     ON books (owner_id, author);

-- The same orders across every owner (the admin listing).
CREATE INDEX books_title      ON books (title, id);
CREATE INDEX books_created_at ON books (created_at, id);
CREATE INDEX books_price      ON books (price_cents, id);

-- Idempotency-Key of a create: the request fingerprint and the book it made.
-- book_id is deliberately not a foreign key: the key must outlive a deleted
-- book so that a retry is told so instead of creating the book again.
CREATE TABLE idempotency_keys (
    owner_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key         TEXT    NOT NULL,
    fingerprint BLOB    NOT NULL,
    book_id     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (owner_id, key)
) STRICT;

-- Expiry deletes the oldest keys first.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

CREATE TABLE signing_keys (
    kid        TEXT    NOT NULL PRIMARY KEY,
    alg        TEXT    NOT NULL,
    secret     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
) STRICT;

CREATE TABLE server_secrets (
    name       TEXT    NOT NULL PRIMARY KEY,
    value      BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE server_secrets;
DROP TABLE signing_keys;
DROP TABLE idempotency_keys;
DROP TABLE books;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
