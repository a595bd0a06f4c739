-- ListBooks is not here: its ORDER BY is chosen by the caller, which sqlc
-- cannot express; internal/postgres composes it from fixed fragments.

-- name: CreateBook :one
INSERT INTO books (id, owner_id, title, author, publisher, price_cents, isbn, published_year, version, created_at, updated_at)
VALUES (@id, @owner_id, @title, @author, @publisher, @price_cents, @isbn, @published_year, 1, @created_at, @updated_at)
RETURNING *;

-- name: FindBookByID :one
SELECT * FROM books WHERE id = @id;

-- FOR UPDATE: read-modify-write of a book holds its row lock until commit,
-- so a concurrent update or delete on any replica waits and then sees the
-- committed result (READ COMMITTED re-reads the locked row).
-- name: FindBookByIDForUpdate :one
SELECT * FROM books WHERE id = @id FOR UPDATE;

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

-- Claims (owner_id, key) for book_id: returns a row when the key was free,
-- or held by an expired entry (created before expired_before), which it takes
-- over; returns no row when a live entry holds it. A concurrent claim of the
-- same key waits for the first transaction and then sees its outcome, so no
-- unique violation is ever raised.
-- name: ClaimIdempotencyKey :one
INSERT INTO idempotency_keys (owner_id, key, fingerprint, book_id, created_at)
VALUES (@owner_id, @key, @fingerprint, @book_id, @created_at)
ON CONFLICT (owner_id, key) DO UPDATE
SET fingerprint = excluded.fingerprint, book_id = excluded.book_id, created_at = excluded.created_at
WHERE idempotency_keys.created_at < @expired_before::timestamptz
RETURNING book_id;

-- name: FindIdempotencyKey :one
SELECT * FROM idempotency_keys WHERE owner_id = @owner_id AND key = @key;

-- Deletes at most max_rows expired keys, oldest first, so one create never
-- pays for a large backlog. SKIP LOCKED: concurrent creates share the work
-- instead of queueing on the same rows.
-- name: DeleteExpiredIdempotencyKeys :exec
DELETE FROM idempotency_keys
WHERE (owner_id, key) IN (
    SELECT k.owner_id, k.key FROM idempotency_keys AS k
    WHERE k.created_at < @before::timestamptz
    ORDER BY k.created_at
    LIMIT @max_rows::bigint
    FOR UPDATE SKIP LOCKED
);
