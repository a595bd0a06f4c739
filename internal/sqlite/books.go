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
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
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
		CreatedAt:     toDB(b.CreatedAt),
		UpdatedAt:     toDB(b.UpdatedAt),
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
			CreatedAt:   toDB(b.CreatedAt),
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
	before := toDB(now.Add(-idempotencyTTL))
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
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
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
			UpdatedAt:     toDB(b.UpdatedAt),
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
	err := db.inTx(ctx, func(q *sqlitedb.Queries) error {
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
//
// A search (q) that the trigram index can serve first reads the next
// searchWindow books in the page's order and keeps those that match; only
// when they hold fewer matches than the page and more books follow does it
// ask the index. A common word fills the page from the first few dozen
// books, which the index would have had to return in full (every match, of
// every owner) and sort: 42 ms for a word in every tenth title of a million
// books, against a fraction of a millisecond. A rare word costs the window
// and then the index.
func (db *DB) ListBooks(ctx context.Context, f bookstore.BookFilter) ([]bookstore.Book, error) {
	if _, ok := searchPhrase(f.Query); !ok || f.Limit <= 0 {
		return db.listBooks(ctx, f, planDirect)
	}
	books, err := db.listBooks(ctx, f, planWindow)
	if err != nil || len(books) >= f.Limit {
		return books, err
	}
	query, args, err := listBooksQuery(f, planWindowSize)
	if err != nil {
		return nil, err
	}
	var read int
	if err := db.rstmts.QueryRowContext(ctx, query, args...).Scan(&read); err != nil {
		return nil, mapErr(err, "", "")
	}
	if read < searchWindow {
		return books, nil // the window held every book that follows
	}
	return db.listBooks(ctx, f, planIndex)
}

// searchWindow is how many books, in the page's order, a search reads
// before it turns to the index (≈ 0.3 µs a book).
const searchWindow = 2000

// listPlan is how listBooksQuery finds the page.
type listPlan int

const (
	// planDirect: the sort index, every condition applied as it walks
	// (no q, or a q too short for the index: a scan).
	planDirect listPlan = iota
	// planWindow: the next searchWindow books in order, then the match.
	planWindow
	// planWindowSize: how many books planWindow read (a count).
	planWindowSize
	// planIndex: the index's candidates, then the match, then the order.
	planIndex
)

func (db *DB) listBooks(ctx context.Context, f bookstore.BookFilter, plan listPlan) ([]bookstore.Book, error) {
	query, args, err := listBooksQuery(f, plan)
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

// bookOrder is a sort's order and the keyset value it takes from the last
// book of the previous page. Each has an index per owner and one across
// owners (see 00001_init.sql), both ending in id.
type bookOrder struct {
	keyset.Order
	after func(bookstore.Book) any
}

var bookOrders = map[bookstore.BookSort]bookOrder{
	bookstore.SortTitle:          {keyset.Order{Column: "title"}, afterTitle},
	bookstore.SortTitleDesc:      {keyset.Order{Column: "title", Desc: true}, afterTitle},
	bookstore.SortCreatedAt:      {keyset.Order{Column: "created_at"}, afterCreatedAt},
	bookstore.SortCreatedAtDesc:  {keyset.Order{Column: "created_at", Desc: true}, afterCreatedAt},
	bookstore.SortPriceCents:     {keyset.Order{Column: "price_cents"}, afterPriceCents},
	bookstore.SortPriceCentsDesc: {keyset.Order{Column: "price_cents", Desc: true}, afterPriceCents},
}

func afterTitle(b bookstore.Book) any      { return b.Title }
func afterCreatedAt(b bookstore.Book) any  { return toDB(b.CreatedAt) }
func afterPriceCents(b bookstore.Book) any { return b.PriceCents }

const bookColumns = "id, owner_id, title, author, publisher, price_cents, isbn, published_year, version, created_at, updated_at"

func listBooksQuery(f bookstore.BookFilter, plan listPlan) (string, []any, error) {
	sort := f.Sort
	if sort == "" {
		sort = bookstore.SortTitle
	}
	order, ok := bookOrders[sort]
	if !ok {
		return "", nil, bookstore.Invalid("unknown sort order",
			bookstore.FieldError{Field: "sort", Message: "unknown sort order"})
	}
	// The books in order: the owner's (or everyone's), the author's, after
	// the cursor.
	inOrder := func(q *keyset.Query) {
		if f.OwnerID != nil {
			q.Where("owner_id = ", q.Param(*f.OwnerID))
		}
		if f.Author != "" {
			q.Where("author = ", q.Param(f.Author)) // the column is COLLATE NOCASE
		}
		if f.After != nil {
			q.After(order.Order, q.Param(order.after(*f.After)), f.After.ID)
		}
	}
	matching := func(q *keyset.Query) {
		if f.Query != "" {
			// LIKE is case-insensitive for ASCII, like the NOCASE columns.
			p := keyset.LikePattern(f.Query)
			q.Where("(title LIKE ", q.Param(p), ` ESCAPE '\' OR author LIKE `, q.Param(p), ` ESCAPE '\')`)
		}
	}
	q := keyset.New(keyset.Question)
	switch plan {
	case planWindow, planWindowSize:
		window := keyset.New(keyset.Question)
		inOrder(window)
		columns := bookColumns
		if plan == planWindowSize {
			columns = "1"
		}
		inner, args := window.SQL(columns, "books", order.Order, searchWindow)
		if plan == planWindowSize {
			return "SELECT count(*) FROM (" + inner + ")", args, nil
		}
		// The window's values come first in the statement; placeholders
		// are positional, so binding them first numbers them right.
		for _, a := range args {
			q.Param(a)
		}
		q.From("(", inner, ")")
		matching(q)
	case planIndex:
		phrase, _ := searchPhrase(f.Query)
		// The trigram index finds the candidates (a superset: it folds case
		// beyond ASCII), and the books not indexed yet are candidates too
		// (books_search_pending, 00007: a rowid is in one or the other);
		// the LIKE decides, as it always has. CROSS JOIN makes the
		// candidates the outer loop: left to itself, SQLite walks the
		// owner's sort index and probes the matches, which reads every
		// book of the owner when nothing matches.
		q.From("(SELECT rowid AS hit FROM books_search WHERE books_search MATCH ", q.Param(phrase),
			" UNION ALL SELECT book_rowid FROM books_search_pending) CROSS JOIN books ON books.rowid = hit")
		inOrder(q)
		matching(q)
	default:
		inOrder(q)
		matching(q)
	}
	query, args := q.SQL(bookColumns, "books", order.Order, maxRows(f.Limit))
	return query, args, nil
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
		CreatedAt:  fromDB(r.CreatedAt),
		UpdatedAt:  fromDB(r.UpdatedAt),
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
