package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookstore/bookstore/internal/bookstore"
)

const msgUnavailable = "the database is temporarily unavailable"

func errUnavailable() *bookstore.Error {
	return &bookstore.Error{Kind: bookstore.ErrUnavailable, Message: msgUnavailable}
}

// mapErr turns an error of the driver into the domain vocabulary, as
// internal/sqlite's mapErr does. notFound and conflict are the client-safe
// messages of the call site for a missing row (or a foreign key to one) and
// for a unique violation.
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
	if errors.Is(err, pgx.ErrNoRows) {
		return &bookstore.Error{Kind: bookstore.ErrNotFound, Message: notFound}
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w (%w)", &bookstore.Error{Kind: bookstore.ErrConflict, Message: conflict}, err)
		case "23503": // foreign_key_violation
			// Every foreign key points at the user or session the row
			// belongs to: the write names one that does not exist.
			return fmt.Errorf("%w (%w)", &bookstore.Error{Kind: bookstore.ErrNotFound, Message: notFound}, err)
		}
	}
	if unavailable(err) {
		return fmt.Errorf("postgres: %w (%w)", errUnavailable(), err)
	}
	return fmt.Errorf("postgres: %w", err)
}

// unavailable reports an error that says nothing about the request, only
// that the database cannot answer it right now: it was unreachable, went
// away, was too busy, or gave up on a transaction after inTx's retries. The
// same request may well succeed later.
func unavailable(err error) bool {
	// The caller gave up (a client that went away): not the database's
	// fault. pgconn reports this as a timeout too, so it is checked first.
	if errors.Is(err, context.Canceled) {
		return false
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case pe.Code == "40001", pe.Code == "40P01": // serialization failure, deadlock (after inTx's retries)
			return true
		case strings.HasPrefix(pe.Code, "08"): // connection exception
			return true
		case strings.HasPrefix(pe.Code, "53"): // insufficient resources: too many connections, disk full, out of memory
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin or crash shutdown, cannot connect now
			return true
		case pe.Code == "57014": // query_canceled: statement_timeout
			return true
		case pe.Code == "55P03": // lock_not_available: lock_timeout
			return true
		case pe.Code == "25006": // read_only_sql_transaction: connected to a standby after a failover
			return true
		}
		return false
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	// SafeToRetry: the statement never reached the server (e.g. the
	// connection was found closed). Timeout: the connect timeout, or the
	// context's deadline, ran out in pgconn.
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// The connection broke mid-statement.
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
