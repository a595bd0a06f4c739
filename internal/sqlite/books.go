package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/sqlitedb"
	"github.com/bookstore/bookstore/internal/bookstore"
)

const (
	msgBookNotFound   = "book not found"
	msgOwnerNotFound  = "the book's owner does not exist"
	msgISBNTaken      = "a book with this ISBN already exists"
	msgKeyOtherBody   = "Idempotency-Key was already used with a different request"
	msgKeyBookGone    = "the book created with this Idempotency-Key has since been deleted"
	msgBookChangedNow = "the book was changed by another request"
)

const (
	// idempotencyTTL is how long a key is remembered.
	idempotencyTTL = 24 * time.Hour
	// expireBatch bounds the expired keys one create deletes, so no single
	// request pays for a backlog; a steady trickle of creates keeps up.
	expireBatch = 100
)

// CreateBook inserts b as Version 1. b.CreatedAt is the time of the request:
// it is stored with an idempotency key, and keys older than a day before it
// are forgotten.
func (db *DB) CreateBook(ctx context.Context, b bookstore.Book, key *bookstore.IdempotencyKey) (bookstore.Book, error) {
	var out bookstore.Book
	err := db.write(ctx, func(q *sqlitedb.Queries) error {
		var err error
		out, err = createBook(ctx, q, b, key)
		return err
	})
	if err != nil {
		return bookstore.Book{}, mapErr(err, msgOwnerNotFound, msgISBNTaken)
	}
	return out, nil
}

func createBook(ctx context.Context, q *sqlitedb.Queries, b bookstore.Book, key *bookstore.IdempotencyKey) (bookstore.Book, error) {
	if key != nil {
		replay, found, err := replayIdempotent(ctx, q, b.OwnerID, *key, b.CreatedAt)
		if err != nil || found {
			return replay, err
		}
	}
	row, err := q.CreateBook(ctx, sqlitedb.CreateBookParams{
		ID:            b.ID,
		OwnerID:       b.OwnerID,
		Title:         b.Title,
		Author:        b.Author,
		Publisher:     b.Publisher,
		PriceCents:    b.PriceCents,
		Isbn:          nullString(b.ISBN),
		PublishedYear: nullInt(b.PublishedYear),
		CreatedAt:     millis(b.CreatedAt),
		UpdatedAt:     millis(b.UpdatedAt),
	})
	if err != nil {
		return bookstore.Book{}, err
	}
	if key != nil {
		err := q.CreateIdempotencyKey(ctx, sqlitedb.CreateIdempotencyKeyParams{
			OwnerID:     b.OwnerID,
			Key:         key.Key,
			Fingerprint: key.Fingerprint,
			BookID:      row.ID,
			CreatedAt:   millis(b.CreatedAt),
		})
		if err != nil {
			return bookstore.Book{}, err
		}
	}
	return bookFromRow(row), nil
}

// replayIdempotent returns the book an earlier request with key made
// (found), or found == false when the key is new or expired.
func replayIdempotent(ctx context.Context, q *sqlitedb.Queries, owner uuid.UUID, key bookstore.IdempotencyKey, now time.Time) (b bookstore.Book, found bool, err error) {
	before := millis(now.Add(-idempotencyTTL))
	if err := q.DeleteExpiredIdempotencyKeys(ctx, sqlitedb.DeleteExpiredIdempotencyKeysParams{
		Before: before, MaxRows: expireBatch,
	}); err != nil {
		return b, false, err
	}
	k, err := q.FindIdempotencyKey(ctx, sqlitedb.FindIdempotencyKeyParams{OwnerID: owner, Key: key.Key})
	if errors.Is(err, sql.ErrNoRows) {
		return b, false, nil
	}
	if err != nil {
		return b, false, err
	}
	if k.CreatedAt < before {
		// Expired, but beyond this request's share of the cleanup.
		err := q.DeleteIdempotencyKey(ctx, sqlitedb.DeleteIdempotencyKeyParams{OwnerID: owner, Key: key.Key})
		return b, false, err
	}
	if !bytes.Equal(k.Fingerprint, key.Fingerprint) {
		return b, false, bookstore.Errorf(bookstore.ErrConflict, msgKeyOtherBody)
	}
	row, err := q.FindBookByID(ctx, k.BookID)
	if errors.Is(err, sql.ErrNoRows) {
		return b, false, bookstore.Errorf(bookstore.ErrConflict, msgKeyBookGone)
	}
	if err != nil {
		return b, false, err
	}
	return bookFromRow(row), true, nil
}

func (db *DB) FindBookByID(ctx context.Context, id uuid.UUID) (bookstore.Book, error) {
	row, err := db.r.FindBookByID(ctx, id)
	if err != nil {
		return bookstore.Book{}, mapErr(err, msgBookNotFound, "")
	}
	return bookFromRow(row), nil
}

// UpdateBook writes every mutable field as change left it (Title, Author,
// Publisher, PriceCents, ISBN, PublishedYear, UpdatedAt); changes to ID,
// OwnerID, Version and CreatedAt are ignored.
func (db *DB) UpdateBook(ctx context.Context, id uuid.UUID, change func(*bookstore.Book) error) (bookstore.Book, error) {
	var out bookstore.Book
	var changeErr error // returned as is, never mapped
	err := db.write(ctx, func(q *sqlitedb.Queries) error {
		row, err := q.FindBookByID(ctx, id)
		if err != nil {
			return err
		}
		b := bookFromRow(row)
		if changeErr = change(&b); changeErr != nil {
			return changeErr
		}
		row, err = q.UpdateBook(ctx, sqlitedb.UpdateBookParams{
			ID:            id,
			Version:       row.Version, // as read, whatever change did to b.Version
			Title:         b.Title,
			Author:        b.Author,
			Publisher:     b.Publisher,
			PriceCents:    b.PriceCents,
			Isbn:          nullString(b.ISBN),
			PublishedYear: nullInt(b.PublishedYear),
			UpdatedAt:     millis(b.UpdatedAt),
		})
		if errors.Is(err, sql.ErrNoRows) {
			// Cannot happen while this transaction holds the write
			// lock; the version check guards the statement anyway.
			return bookstore.Errorf(bookstore.ErrConflict, msgBookChangedNow)
		}
		out = bookFromRow(row)
		return err
	})
	if changeErr != nil {
		return bookstore.Book{}, changeErr
	}
	if err != nil {
		return bookstore.Book{}, mapErr(err, msgBookNotFound, msgISBNTaken)
	}
	return out, nil
}

func (db *DB) DeleteBook(ctx context.Context, id uuid.UUID, check func(bookstore.Book) error) error {
	var checkErr error // returned as is, never mapped
	err := db.write(ctx, func(q *sqlitedb.Queries) error {
		row, err := q.FindBookByID(ctx, id)
		if err != nil {
			return err
		}
		if checkErr = check(bookFromRow(row)); checkErr != nil {
			return checkErr
		}
		n, err := q.DeleteBook(ctx, sqlitedb.DeleteBookParams{ID: id, Version: row.Version})
		if err == nil && n == 0 {
			// Cannot happen while this transaction holds the write lock: a
			// broken invariant, not a conflict a client could resolve (so a
			// 500, never an undeclared 409).
			return fmt.Errorf("delete book %s: no row at version %d although it was locked", id, row.Version)
		}
		return err
	})
	if checkErr != nil {
		return checkErr
	}
	return mapErr(err, msgBookNotFound, "")
}

// ListBooks is the one query not written in sql/sqlite/queries: the caller
// picks the ORDER BY, and with it the keyset condition, which sqlc cannot
// express (a CASE in ORDER BY would also defeat the indexes). The statement is
// assembled only from fixed fragments (bookOrders, listBooksQuery); every
// value is a bound parameter. Sort "" means SortTitle; a Limit of zero or less means no limit.
func (db *DB) ListBooks(ctx context.Context, f bookstore.BookFilter) ([]bookstore.Book, error) {
	query, args, err := listBooksQuery(f)
	if err != nil {
		return nil, err
	}
	rows, err := db.rstmts.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err, "", "")
	}
	defer rows.Close()
	books := []bookstore.Book{}
	for rows.Next() {
		var r sqlitedb.Book
		if err := rows.Scan(&r.ID, &r.OwnerID, &r.Title, &r.Author, &r.Publisher, &r.PriceCents,
			&r.Isbn, &r.PublishedYear, &r.Version, &r.CreatedAt, &r.UpdatedAt); err != nil {
			return nil, mapErr(err, "", "")
		}
		books = append(books, bookFromRow(r))
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err, "", "")
	}
	return books, nil
}

// bookOrder is a sort's column, direction and the keyset value it takes from
// the last book of the previous page. Each has an index per owner and one
// across owners (see 00001_init.sql), both ending in id.
type bookOrder struct {
	column string
	desc   bool
	after  func(bookstore.Book) any
}

var bookOrders = map[bookstore.BookSort]bookOrder{
	bookstore.SortTitle:          {"title", false, afterTitle},
	bookstore.SortTitleDesc:      {"title", true, afterTitle},
	bookstore.SortCreatedAt:      {"created_at", false, afterCreatedAt},
	bookstore.SortCreatedAtDesc:  {"created_at", true, afterCreatedAt},
	bookstore.SortPriceCents:     {"price_cents", false, afterPriceCents},
	bookstore.SortPriceCentsDesc: {"price_cents", true, afterPriceCents},
}

func afterTitle(b bookstore.Book) any      { return b.Title }
func afterCreatedAt(b bookstore.Book) any  { return millis(b.CreatedAt) }
func afterPriceCents(b bookstore.Book) any { return b.PriceCents }

const bookColumns = "id, owner_id, title, author, publisher, price_cents, isbn, published_year, version, created_at, updated_at"

func listBooksQuery(f bookstore.BookFilter) (string, []any, error) {
	sort := f.Sort
	if sort == "" {
		sort = bookstore.SortTitle
	}
	order, ok := bookOrders[sort]
	if !ok {
		return "", nil, bookstore.Invalid("unknown sort order",
			bookstore.FieldError{Field: "sort", Message: "unknown sort order"})
	}
	from := "books"
	var where []string
	var args []any
	if phrase, ok := searchPhrase(f.Query); ok {
		// The trigram index finds the candidates (a superset: it folds case
		// beyond ASCII); the LIKE below decides, as it always has. CROSS
		// JOIN makes the index the outer loop: left to itself, SQLite
		// walks the owner's sort index and probes the matches, which reads
		// every book of the owner when nothing matches.
		from = "(SELECT rowid AS hit FROM books_search WHERE books_search MATCH ?) CROSS JOIN books ON books.rowid = hit"
		args = append(args, phrase)
	}
	if f.OwnerID != nil {
		where = append(where, "owner_id = ?")
		args = append(args, *f.OwnerID)
	}
	if f.Query != "" {
		// LIKE is case-insensitive for ASCII, like the NOCASE columns.
		where = append(where, `(title LIKE ? ESCAPE '\' OR author LIKE ? ESCAPE '\')`)
		p := likePattern(f.Query)
		args = append(args, p, p)
	}
	if f.Author != "" {
		where = append(where, "author = ?") // the column is COLLATE NOCASE
		args = append(args, f.Author)
	}
	dir, cmp := "ASC", ">"
	if order.desc {
		dir, cmp = "DESC", "<"
	}
	if f.After != nil {
		// A row value compares column by column with each column's
		// collation, exactly as ORDER BY sorts, and lets SQLite seek the
		// index to the page start.
		where = append(where, "("+order.column+", id) "+cmp+" (?, ?)")
		args = append(args, order.after(*f.After), f.After.ID)
	}

	var sb strings.Builder
	sb.WriteString("SELECT " + bookColumns + " FROM " + from)
	if len(where) > 0 {
		sb.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	sb.WriteString(" ORDER BY " + order.column + " " + dir + ", id " + dir + " LIMIT ?")
	args = append(args, limit(f.Limit))
	return sb.String(), args, nil
}

// searchPhrase is q as an FTS5 phrase for books_search, and whether the
// trigram index can serve it: a phrase of 3 or more characters matches the
// rows containing it as a substring (of the title or of the author), with
// case folded. Shorter queries contain no trigram, and text that is not
// UTF-8 cannot be tokenized as the stored text was: both scan instead.
// Inside double quotes FTS5 reads every character literally except the
// quote itself, which is doubled.
func searchPhrase(q string) (string, bool) {
	if utf8.RuneCountInString(q) < 3 || !utf8.ValidString(q) {
		return "", false
	}
	return `"` + strings.ReplaceAll(q, `"`, `""`) + `"`, true
}

func bookFromRow(r sqlitedb.Book) bookstore.Book {
	b := bookstore.Book{
		ID:         r.ID,
		OwnerID:    r.OwnerID,
		Title:      r.Title,
		Author:     r.Author,
		Publisher:  r.Publisher,
		PriceCents: r.PriceCents,
		Version:    r.Version,
		CreatedAt:  fromMillis(r.CreatedAt),
		UpdatedAt:  fromMillis(r.UpdatedAt),
	}
	if r.Isbn.Valid {
		isbn := r.Isbn.String
		b.ISBN = &isbn
	}
	if r.PublishedYear.Valid {
		year := int(r.PublishedYear.Int64)
		b.PublishedYear = &year
	}
	return b
}

func nullString(s *string) sql.NullString {
	if s == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *s, Valid: true}
}

func nullInt(n *int) sql.NullInt64 {
	if n == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*n), Valid: true}
}
