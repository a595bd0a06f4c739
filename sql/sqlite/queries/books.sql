-- ListBooks is not here: its ORDER BY is chosen by the caller, which sqlc
-- cannot express; internal/sqlite composes it from fixed fragments.

-- name: CreateBook :one
INSERT INTO books (id, owner_id, title, author, publisher, price_cents, isbn, published_year, version, created_at, updated_at)
VALUES (@id, @owner_id, @title, @author, @publisher, @price_cents, @isbn, @published_year, 1, @created_at, @updated_at)
RETURNING *;

-- name: FindBookByID :one
SELECT * FROM books WHERE id = @id;

-- Every mutable field is written; the version check makes a lost update
-- impossible even if the row changed since it was read.
-- name: UpdateBook :one
UPDATE books
SET title = @title,
    author = @author,
    publisher = @publisher,
    price_cents = @price_cents,
    isbn = @isbn,
    published_year = @published_year,
    updated_at = @updated_at,
    version = version + 1
WHERE id = @id AND version = @version
RETURNING *;

-- name: DeleteBook :execrows
DELETE FROM books WHERE id = @id AND version = @version;

-- name: FindIdempotencyKey :one
SELECT * FROM idempotency_keys WHERE owner_id = @owner_id AND key = @key;

-- name: CreateIdempotencyKey :exec
INSERT INTO idempotency_keys (owner_id, key, fingerprint, book_id, created_at)
VALUES (@owner_id, @key, @fingerprint, @book_id, @created_at);

-- Deletes at most max_rows expired keys, oldest first, so one create never
-- pays for a large backlog.
-- name: DeleteExpiredIdempotencyKeys :exec
DELETE FROM idempotency_keys
WHERE rowid IN (
    SELECT k.rowid FROM idempotency_keys AS k
    WHERE k.created_at < @before
    ORDER BY k.created_at
    LIMIT @max_rows
);

-- name: DeleteIdempotencyKey :exec
DELETE FROM idempotency_keys WHERE owner_id = @owner_id AND key = @key;
