package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// mapErr turns an error of the driver into the domain vocabulary. notFound and
// conflict are the client-safe messages of the call site for a missing row
// (or a foreign key to one) and for a UNIQUE or PRIMARY KEY violation.
//
// The driver's own text never goes into a *bookstore.Error message: it names
// tables and columns. It stays in the chain (and in Error()) for the logs.
func mapErr(err error, notFound, conflict string) error {
	if err == nil {
		return nil
	}
	// Already mapped, or a domain error from a callback: keep it.
	if _, ok := errors.AsType[*bookstore.Error](err); ok {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &bookstore.Error{Kind: bookstore.ErrNotFound, Message: notFound}
	}
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w (%w)", &bookstore.Error{Kind: bookstore.ErrConflict, Message: conflict}, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			// Every foreign key points at the user or session the row
			// belongs to: the write names one that does not exist.
			return fmt.Errorf("%w (%w)", &bookstore.Error{Kind: bookstore.ErrNotFound, Message: notFound}, err)
		}
		// Extended codes keep the primary code in the low byte.
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, // another connection held a lock past busy_timeout
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("sqlite: %w (%w)", &bookstore.Error{
				Kind:    bookstore.ErrUnavailable,
				Message: "the database is temporarily unavailable",
			}, err)
		}
	}
	return fmt.Errorf("sqlite: %w", err)
}
