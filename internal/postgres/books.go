package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/bookstore/bookstore/gen/pgdb"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/keyset"
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
	var err error
	if key == nil {
		// One INSERT is atomic on its own: without BEGIN and COMMIT it is
		// one round trip instead of three (under load, a third of the
		// PostgreSQL backend's work per create).
		out, err = createBook(ctx, db.w, b, nil)
	} else {
		err = db.inTx(ctx, func(q *pgdb.Queries) error {
			out, err = createBook(ctx, q, b, key)
			return err
		})
	}
	if err != nil {
		return bookstore.Book{}, mapErr(err, msgOwnerNotFound, msgISBNTaken)
	}
	return out, nil
}

// createBook claims the idempotency key before inserting the book. The claim
// is one INSERT ... ON CONFLICT: of concurrent creates with one key, on any
// replicas, the first claims it and the others wait for its transaction; if
// it commits they replay its book, if it rolls back (say, a taken ISBN) the
// next one claims the key. No unique violation can surface, and exactly one
// book is made.
func createBook(ctx context.Context, q *pgdb.Queries, b bookstore.Book, key *bookstore.IdempotencyKey) (bookstore.Book, error) {
	if key != nil {
		replay, found, err := claimIdempotencyKey(ctx, q, b, *key)
		if err != nil || found {
			return replay, err
		}
	}
	year, err := publishedYear(b.PublishedYear)
	if err != nil {
		return bookstore.Book{}, err
	}
	row, err := q.CreateBook(ctx, pgdb.CreateBookParams{
		ID:            b.ID,
		OwnerID:       b.OwnerID,
		Title:         b.Title,
		Author:        b.Author,
		Publisher:     b.Publisher,
		PriceCents:    b.PriceCents,
		Isbn:          b.ISBN,
		PublishedYear: year,
		CreatedAt:     toDB(b.CreatedAt),
		UpdatedAt:     toDB(b.UpdatedAt),
	})
	if err != nil {
		return bookstore.Book{}, err
	}
	return bookFromRow(row), nil
}

// claimIdempotencyKey stores key for b (found == false: go on and insert b),
// or returns the book an earlier request with key made (found), or
// ErrConflict when that request had another body or its book is gone.
func claimIdempotencyKey(ctx context.Context, q *pgdb.Queries, b bookstore.Book, key bookstore.IdempotencyKey) (replay bookstore.Book, found bool, err error) {
	expired := toDB(b.CreatedAt.Add(-idempotencyTTL))
	if err := q.DeleteExpiredIdempotencyKeys(ctx, pgdb.DeleteExpiredIdempotencyKeysParams{
		Before: expired, MaxRows: expireBatch,
	}); err != nil {
		return replay, false, err
	}
	_, err = q.ClaimIdempotencyKey(ctx, pgdb.ClaimIdempotencyKeyParams{
		OwnerID:       b.OwnerID,
		Key:           key.Key,
		Fingerprint:   key.Fingerprint,
		BookID:        b.ID,
		CreatedAt:     toDB(b.CreatedAt),
		ExpiredBefore: expired,
	})
	if err == nil {
		return replay, false, nil // claimed
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return replay, false, err
	}
	// A live entry holds the key, committed by an earlier request; the
	// claim left it locked, so it stays as read until this transaction ends.
	k, err := q.FindIdempotencyKey(ctx, pgdb.FindIdempotencyKeyParams{OwnerID: b.OwnerID, Key: key.Key})
	if err != nil {
		return replay, false, err
	}
	if !bytes.Equal(k.Fingerprint, key.Fingerprint) {
		return replay, false, bookstore.Errorf(bookstore.ErrConflict, msgKeyOtherBody)
	}
	row, err := q.FindBookByID(ctx, k.BookID)
	if errors.Is(err, pgx.ErrNoRows) {
		return replay, false, bookstore.Errorf(bookstore.ErrConflict, msgKeyBookGone)
	}
	if err != nil {
		return replay, false, err
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
//
// The book's row stays locked from the read to the commit, so change always
// sees the latest committed version: of two updates made against the same
// version (If-Match), on any replicas, the second waits, then sees the
// first's result, and its change func refuses it. change may run more than
// once if PostgreSQL aborts the transaction to break a deadlock.
func (db *DB) UpdateBook(ctx context.Context, id uuid.UUID, change func(*bookstore.Book) error) (bookstore.Book, error) {
	var out bookstore.Book
	var changeErr error // returned as is, never mapped
	err := db.inTx(ctx, func(q *pgdb.Queries) error {
		row, err := q.FindBookByIDForUpdate(ctx, id)
		if err != nil {
			return err
		}
		b := bookFromRow(row)
		if changeErr = change(&b); changeErr != nil {
			return changeErr
		}
		year, err := publishedYear(b.PublishedYear)
		if err != nil {
			return err
		}
		row, err = q.UpdateBook(ctx, pgdb.UpdateBookParams{
			ID:            id,
			Version:       row.Version, // as read, whatever change did to b.Version
			Title:         b.Title,
			Author:        b.Author,
			Publisher:     b.Publisher,
			PriceCents:    b.PriceCents,
			Isbn:          b.ISBN,
			PublishedYear: year,
			UpdatedAt:     toDB(b.UpdatedAt),
		})
		if errors.Is(err, pgx.ErrNoRows) {
			// Cannot happen while this transaction holds the row
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

// DeleteBook locks the book's row like UpdateBook, so check sees the latest
// committed version.
func (db *DB) DeleteBook(ctx context.Context, id uuid.UUID, check func(bookstore.Book) error) error {
	var checkErr error // returned as is, never mapped
	err := db.inTx(ctx, func(q *pgdb.Queries) error {
		row, err := q.FindBookByIDForUpdate(ctx, id)
		if err != nil {
			return err
		}
		if checkErr = check(bookFromRow(row)); checkErr != nil {
			return checkErr
		}
		n, err := q.DeleteBook(ctx, pgdb.DeleteBookParams{ID: id, Version: row.Version})
		if err == nil && n == 0 {
			// Cannot happen while this transaction holds the row lock: a
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

// ListBooks is the one query not written in sql/postgres/queries: the caller
// picks the ORDER BY, and with it the keyset condition, which sqlc cannot
// express (a CASE in ORDER BY would also defeat the indexes). The statement
// is assembled only from fixed fragments (bookOrders, listBooksQuery); every
// value is a bound parameter. Sort "" means SortTitle; a Limit of zero or
// less means no limit.
func (db *DB) ListBooks(ctx context.Context, f bookstore.BookFilter) ([]bookstore.Book, error) {
	query, args, err := listBooksQuery(f)
	if err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, mapErr(err, "", "")
	}
	// bookColumns are pgdb.Book's fields in order.
	found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pgdb.Book])
	if err != nil {
		return nil, mapErr(err, "", "")
	}
	books := make([]bookstore.Book, 0, len(found))
	for _, r := range found {
		books = append(books, bookFromRow(r))
	}
	return books, nil
}

// bookOrder is a sort's order, the keyset value it takes from the last book
// of the previous page, and how that value's placeholder is wrapped. Each has
// an index per owner and one across owners (see 00001_init.sql), both ending
// in id.
type bookOrder struct {
	keyset.Order
	after func(bookstore.Book) any
	// param wraps the placeholder of the after value: title_key holds the
	// folded title, so the title is folded the same way in SQL.
	param string
}

const foldedParam = `lower(%s::text COLLATE "C")` // as title_key and username_key are computed

var bookOrders = map[bookstore.BookSort]bookOrder{
	bookstore.SortTitle:          {keyset.Order{Column: "title_key"}, afterTitle, foldedParam},
	bookstore.SortTitleDesc:      {keyset.Order{Column: "title_key", Desc: true}, afterTitle, foldedParam},
	bookstore.SortCreatedAt:      {keyset.Order{Column: "created_at"}, afterCreatedAt, "%s"},
	bookstore.SortCreatedAtDesc:  {keyset.Order{Column: "created_at", Desc: true}, afterCreatedAt, "%s"},
	bookstore.SortPriceCents:     {keyset.Order{Column: "price_cents"}, afterPriceCents, "%s"},
	bookstore.SortPriceCentsDesc: {keyset.Order{Column: "price_cents", Desc: true}, afterPriceCents, "%s"},
}

func afterTitle(b bookstore.Book) any      { return b.Title }
func afterCreatedAt(b bookstore.Book) any  { return toDB(b.CreatedAt) }
func afterPriceCents(b bookstore.Book) any { return b.PriceCents }

const bookColumns = "id, owner_id, title, title_key, author, publisher, price_cents, isbn, published_year, version, created_at, updated_at"

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
	q := keyset.New(keyset.Dollar)
	fold := func(v string) string { return strings.Replace(foldedParam, "%s", q.Param(v), 1) }

	if f.OwnerID != nil {
		q.Where("owner_id = ", q.Param(*f.OwnerID))
	}
	switch {
	case utf8.RuneCountInString(f.Query) >= 3:
		// A LIKE on the very expressions of the trigram indexes (see
		// 00006_books_search.sql), so PostgreSQL can look the substring up;
		// the index is lossy and every candidate is rechecked, so the
		// result is exactly strpos's below. Both sides fold ASCII case,
		// like SQLite's LIKE; folding leaves the escapes alone.
		p := fold(keyset.LikePattern(f.Query))
		q.Where(`(title_key LIKE `, p, ` OR lower(author COLLATE "C") LIKE `, p, `)`)
	case f.Query != "":
		// No trigram to look up: a scan. strpos matches a literal
		// substring, with no wildcards to escape.
		v := fold(f.Query)
		q.Where(`(strpos(title_key, `, v, `) > 0 OR strpos(lower(author COLLATE "C"), `, v, `) > 0)`)
	}
	if f.Author != "" {
		// The expression of the books_owner_author index.
		q.Where(`lower(author COLLATE "C") = `, fold(f.Author))
	}
	if f.After != nil {
		// title_key is COLLATE "C", so the row comparison and ORDER BY
		// both compare bytes.
		q.After(order.Order, strings.Replace(order.param, "%s", q.Param(order.after(*f.After)), 1), f.After.ID)
	}
	query, args := q.SQL(bookColumns, "books", order.Order, maxRows(f.Limit))
	return query, args, nil
}

func bookFromRow(r pgdb.Book) bookstore.Book {
	b := bookstore.Book{
		ID:         r.ID,
		OwnerID:    r.OwnerID,
		Title:      r.Title,
		Author:     r.Author,
		Publisher:  r.Publisher,
		PriceCents: r.PriceCents,
		ISBN:       r.Isbn,
		Version:    r.Version,
		CreatedAt:  fromDB(r.CreatedAt),
		UpdatedAt:  fromDB(r.UpdatedAt),
	}
	if r.PublishedYear != nil {
		year := int(*r.PublishedYear)
		b.PublishedYear = &year
	}
	return b
}

// publishedYear narrows a year for the INTEGER column. The API bounds years
// to 0..9999; a value outside int32 is refused rather than wrapped around.
func publishedYear(n *int) (*int32, error) {
	if n == nil {
		return nil, nil
	}
	if *n < math.MinInt32 || *n > math.MaxInt32 {
		return nil, bookstore.Invalid("published_year is out of range",
			bookstore.FieldError{Field: "published_year", Message: "is out of range"})
	}
	v := int32(*n)
	return &v, nil
}
