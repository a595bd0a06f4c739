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

-- The search index's write-behind (00007_books_search_pending.sql): the
-- writer moves the books waiting in books_search_pending into books_search,
-- a round at a time, up to a rowid.

-- name: PendingSearchRowidAt :one
-- The pending rowid at offset (in rowid order): where a bounded round ends.
SELECT book_rowid FROM books_search_pending ORDER BY book_rowid LIMIT 1 OFFSET sqlc.arg(offset);

-- name: LastPendingSearchRowid :one
-- The last pending rowid, 0 when nothing waits.
SELECT CAST(coalesce(max(book_rowid), 0) AS INTEGER) FROM books_search_pending;

-- name: IndexPendingBooks :exec
INSERT INTO books_search (rowid, title, author)
SELECT books.rowid, books.title, books.author
FROM books_search_pending JOIN books ON books.rowid = books_search_pending.book_rowid
WHERE books_search_pending.book_rowid <= sqlc.arg(last);

-- name: DeletePendingBooks :exec
DELETE FROM books_search_pending WHERE book_rowid <= sqlc.arg(last);
