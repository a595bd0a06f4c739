// Package seedimport imports the Flask JWT tutorial's bookstore.db, the
// seed app this project rebuilds, into a bookstore.Store.
//
// The tutorial's models (Flask-SQLAlchemy, so tables users and books) are
//
//	class Users(db.Model):
//	    id = db.Column(db.Integer, primary_key=True)
//	    public_id = db.Column(db.Integer)       # holds str(uuid.uuid4())
//	    name = db.Column(db.String(50))
//	    password = db.Column(db.String(50))     # generate_password_hash(pw, method='sha256')
//	    admin = db.Column(db.Boolean)
//
//	class Books(db.Model):
//	    id = db.Column(db.Integer, primary_key=True)
//	    user_id = db.Column(db.Integer, db.ForeignKey('users.id'), nullable=False)
//	    name = db.Column(db.String(50), unique=True, nullable=False)
//	    Author = db.Column(db.String(50), unique=True, nullable=False)
//	    Publisher = db.Column(db.String(50), nullable=False)
//	    book_prize = db.Column(db.Integer)
//
// Users keep their werkzeug password hashes; auth.Hasher verifies them at
// login and replaces them with argon2id on the first success. Their
// passwords never met today's policy, so they are imported with
// PasswordChangeRequired: the first login checks the password against the
// policy and, if it fails, the user may only change it. Seed admins become
// admins only with Options.Admins. Books map name→title, Author→author,
// Publisher→publisher and book_prize→price_cents. What cannot be imported (a
// username that breaks the rules or clashes, a hash no login could verify
// or one over the cost caps, a book with a missing field) is reported and
// skipped, never fatal. Imported rows get ids derived from the seed's
// (UUIDv5), and every imported account is recorded (Source), so a second
// run imports nothing twice and never brings back an account deleted here.
package seedimport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // the "sqlite" driver, to read the seed's file

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// Namespace is the UUIDv5 namespace of imported ids: a user's id is
// uuid.NewSHA1(Namespace, "user:"+public_id) (or "user-name:"+lower(name)
// without a public_id), a book's uuid.NewSHA1(Namespace, ownerID+":book:"+id).
var Namespace = uuid.MustParse("6f1c3c52-3a0e-4f0a-9f7e-2b1d8c7a5e40")

// PrizeUnit says what book_prize counts. The tutorial's column is a bare
// Integer; its books were priced in whole currency units.
type PrizeUnit int

const (
	// Whole units: book_prize 12 is 12.00, price_cents 1200.
	Whole PrizeUnit = iota
	// Cents: book_prize is already in cents.
	Cents
)

// Source names this importer's accounts in the record of imported ones.
const Source = "flask-tutorial"

// Options adjust an import.
type Options struct {
	PrizeUnit PrizeUnit
	// Admins makes the seed's admins admins here. Without it they are
	// imported as regular users (and counted in Report.AdminsDemoted):
	// an admin's old password is the likeliest to have leaked.
	Admins bool
	// Now stamps created_at of what is imported (the seed has no
	// timestamps); zero means time.Now.
	Now time.Time
}

// Skip is a row that was not imported, and why.
type Skip struct {
	Table  string // "users" or "books"
	ID     int64  // the seed's id
	Name   string // the seed's name of the user or book
	Reason string
}

func (s Skip) String() string {
	what := "user"
	if s.Table == "books" {
		what = "book"
	}
	return fmt.Sprintf("%s #%d %q: %s", what, s.ID, s.Name, s.Reason)
}

// Report is what an import did.
type Report struct {
	UsersImported, AdminsImported, UsersAlready int
	AdminsDemoted                               int // seed admins imported as regular users
	UsersDeletedHere                            int // imported before and deleted since: not brought back
	BooksImported, BooksAlready                 int
	Skipped                                     []Skip
}

// Skips returns the skipped rows of table.
func (r Report) Skips(table string) []Skip {
	var out []Skip
	for _, s := range r.Skipped {
		if s.Table == table {
			out = append(out, s)
		}
	}
	return out
}

type seedUser struct {
	id       int64
	publicID sql.NullString
	name     sql.NullString
	password sql.NullString
	admin    sql.NullBool
}

type seedBook struct {
	id        int64
	userID    sql.NullInt64
	name      sql.NullString
	author    sql.NullString
	publisher sql.NullString
	prize     any
}

// Import reads the seed database at path (read-only) into store.
func Import(ctx context.Context, path string, store bookstore.Store, opts Options) (Report, error) {
	users, books, err := read(ctx, path)
	if err != nil {
		return Report{}, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Millisecond)

	var r Report
	owners := map[int64]uuid.UUID{} // seed user id → our id, for users now in the store
	skippedUsers := map[int64]string{}
	seen := map[string]seedUser{} // lowercased name → the first seed user with it
	for _, su := range users {
		name := su.name.String
		skip := func(reason string) {
			r.Skipped = append(r.Skipped, Skip{Table: "users", ID: su.id, Name: name, Reason: reason})
			skippedUsers[su.id] = reason
		}
		if !su.name.Valid || name == "" {
			skip("no name")
			continue
		}
		if err := bookstore.CheckUsername(name); err != nil {
			skip(message(err))
			continue
		}
		if first, ok := seen[strings.ToLower(name)]; ok {
			skip(fmt.Sprintf("the name clashes with user #%d %q (usernames are compared case-insensitively)", first.id, first.name.String))
			continue
		}
		seen[strings.ToLower(name)] = su
		if !su.password.Valid || su.password.String == "" {
			skip("no password hash")
			continue
		}
		if err := auth.CheckWerkzeugHash(su.password.String); err != nil {
			skip("the password hash cannot be verified: " + strings.TrimPrefix(err.Error(), "werkzeug hash: "))
			continue
		}
		id := userID(su)
		u := bookstore.User{ID: id, Username: name, PasswordHash: su.password.String,
			Admin: su.admin.Valid && su.admin.Bool && opts.Admins, CreatedAt: now, PasswordChangeRequired: true}
		created, err := store.ImportUser(ctx, u, Source, id.String(), now)
		switch {
		case errors.Is(err, bookstore.ErrConflict):
			if existing, err := store.FindUserByUsername(ctx, name); err == nil {
				skip(fmt.Sprintf("the username is taken here by %s (usernames are compared case-insensitively)", existing.Username))
			} else {
				skip("the username is taken here (usernames are compared case-insensitively)")
			}
			continue
		case err != nil:
			return r, err
		case !created:
			// Imported by an earlier run: here still, or deleted since.
			if _, err := store.FindUserByID(ctx, id); errors.Is(err, bookstore.ErrNotFound) {
				r.UsersDeletedHere++
				skip("imported before and deleted here since: not brought back")
				continue
			} else if err != nil {
				return r, err
			}
			r.UsersAlready++
			owners[su.id] = id
			continue
		}
		r.UsersImported++
		if u.Admin {
			r.AdminsImported++
		} else if su.admin.Valid && su.admin.Bool {
			r.AdminsDemoted++
		}
		owners[su.id] = id
	}

	for _, sb := range books {
		name := sb.name.String
		skip := func(reason string) {
			r.Skipped = append(r.Skipped, Skip{Table: "books", ID: sb.id, Name: name, Reason: reason})
		}
		owner, ok := owners[sb.userID.Int64]
		switch {
		case !sb.userID.Valid:
			skip("no user_id")
			continue
		case !ok && skippedUsers[sb.userID.Int64] != "":
			skip(fmt.Sprintf("its owner, user #%d, was skipped", sb.userID.Int64))
			continue
		case !ok:
			skip(fmt.Sprintf("its owner, user #%d, does not exist", sb.userID.Int64))
			continue
		}
		b, reason := bookFrom(sb, opts.PrizeUnit)
		if reason != "" {
			skip(reason)
			continue
		}
		b.ID = uuid.NewSHA1(Namespace, []byte(owner.String()+":book:"+strconv.FormatInt(sb.id, 10)))
		b.OwnerID, b.Version, b.CreatedAt, b.UpdatedAt = owner, 1, now, now
		if _, err := store.FindBookByID(ctx, b.ID); err == nil {
			r.BooksAlready++
			continue
		} else if !errors.Is(err, bookstore.ErrNotFound) {
			return r, err
		}
		if _, err := store.CreateBook(ctx, b, nil); err != nil {
			return r, fmt.Errorf("book #%d: %w", sb.id, err)
		}
		r.BooksImported++
	}
	return r, nil
}

func userID(su seedUser) uuid.UUID {
	if su.publicID.Valid && su.publicID.String != "" {
		return uuid.NewSHA1(Namespace, []byte("user:"+su.publicID.String))
	}
	return uuid.NewSHA1(Namespace, []byte("user-name:"+strings.ToLower(su.name.String)))
}

// bookFrom maps a seed book, or says why it cannot be.
func bookFrom(sb seedBook, unit PrizeUnit) (bookstore.Book, string) {
	var b bookstore.Book
	var err error
	for _, f := range []struct {
		column string
		v      sql.NullString
		dst    *string
		field  string
	}{
		{"name", sb.name, &b.Title, "title"},
		{"Author", sb.author, &b.Author, "author"},
		{"Publisher", sb.publisher, &b.Publisher, "publisher"},
	} {
		if !f.v.Valid || strings.TrimSpace(f.v.String) == "" {
			return b, f.column + " is missing"
		}
		if *f.dst, err = bookstore.CleanText(f.field, f.v.String); err != nil {
			return b, f.column + ": " + message(err)
		}
	}
	var prize float64
	switch v := sb.prize.(type) {
	case nil:
		return b, "book_prize is missing"
	case int64:
		prize = float64(v)
	case float64:
		prize = v
	case string:
		if prize, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			return b, fmt.Sprintf("book_prize %q is not a number", v)
		}
	default:
		return b, "book_prize is not a number"
	}
	if unit == Whole {
		prize *= 100
	}
	cents := math.Round(prize)
	switch {
	case math.IsNaN(prize) || math.Abs(prize-cents) > 1e-6:
		return b, fmt.Sprintf("book_prize %v is not a whole number of cents", sb.prize)
	case cents < 0:
		return b, fmt.Sprintf("book_prize %v is negative", sb.prize)
	case cents > maxPriceCents:
		return b, fmt.Sprintf("book_prize %v is over the highest price, %d cents", sb.prize, maxPriceCents)
	}
	b.PriceCents = int64(cents)
	return b, ""
}

// maxPriceCents is the spec's PriceCents maximum.
const maxPriceCents = 1_000_000_000

func message(err error) string {
	var de *bookstore.Error
	if errors.As(err, &de) {
		return de.Message
	}
	return err.Error()
}

// read loads both tables of the seed, checking they are the tutorial's.
func read(ctx context.Context, path string) ([]seedUser, []seedBook, error) {
	// Read-only, and never create the file: a wrong path is an error.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	if err := checkColumns(ctx, db, "users", "id", "public_id", "name", "password", "admin"); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkColumns(ctx, db, "books", "id", "user_id", "name", "author", "publisher", "book_prize"); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var users []seedUser
	rows, err := db.QueryContext(ctx, `SELECT id, CAST(public_id AS TEXT), name, password, admin FROM users ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: read users: %w", path, err)
	}
	for rows.Next() {
		var u seedUser
		if err := rows.Scan(&u.id, &u.publicID, &u.name, &u.password, &u.admin); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("%s: read users: %w", path, err)
		}
		users = append(users, u)
	}
	if err := rows.Close(); err != nil {
		return nil, nil, err
	}
	var books []seedBook
	rows, err = db.QueryContext(ctx, `SELECT id, user_id, name, "Author", "Publisher", book_prize FROM books ORDER BY id`)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: read books: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var b seedBook
		if err := rows.Scan(&b.id, &b.userID, &b.name, &b.author, &b.publisher, &b.prize); err != nil {
			return nil, nil, fmt.Errorf("%s: read books: %w", path, err)
		}
		books = append(books, b)
	}
	return users, books, rows.Err()
}

// checkColumns fails unless table exists with at least these columns
// (compared case-insensitively, as SQLite does).
func checkColumns(ctx context.Context, db *sql.DB, table string, want ...string) error {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return fmt.Errorf("not a readable SQLite database: %w", err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		have[strings.ToLower(name)] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("not a readable SQLite database: %w", err)
	}
	if len(have) == 0 {
		return fmt.Errorf("no table %s: not the Flask tutorial's bookstore.db", table)
	}
	for _, c := range want {
		if !have[c] {
			return fmt.Errorf("table %s has no column %s: not the Flask tutorial's bookstore.db", table, c)
		}
	}
	return nil
}
