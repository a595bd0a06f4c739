package tracing

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// Store traces each call of a bookstore.Store as a client span named after
// the method (db.operation.name), with the engine as db.system.name. On
// PostgreSQL the queries it runs are its children (see QueryTracer). Calls
// the wrapper does not know yet pass through untraced.
type Store struct {
	bookstore.Store
	tracer trace.Tracer
	system attribute.KeyValue
}

// Engines for WrapStore.
var (
	SQLite     = semconv.DBSystemNameSQLite
	PostgreSQL = semconv.DBSystemNamePostgreSQL
)

// WrapStore traces s with tp; engine is SQLite or PostgreSQL.
func WrapStore(s bookstore.Store, tp trace.TracerProvider, engine attribute.KeyValue) *Store {
	return &Store{Store: s, tracer: tp.Tracer(instrumentation), system: engine}
}

func (s *Store) start(ctx context.Context, op string) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(s.system, semconv.DBOperationName(op)))
}

// domainErrors are answers, not failures of the database: a span that
// ends in one is not an error.
var domainErrors = []error{
	bookstore.ErrNotFound, bookstore.ErrConflict, bookstore.ErrForbidden, bookstore.ErrPreconditionFailed,
	bookstore.ErrUnauthorized, bookstore.ErrInvalid, bookstore.ErrRefreshReused,
}

// end ends span, marking it failed when err is a failure.
func end(span trace.Span, err error) {
	if err != nil {
		outcome := "failure"
		for _, d := range domainErrors {
			if errors.Is(err, d) {
				outcome = ""
				break
			}
		}
		if outcome != "" {
			span.RecordError(err)
			span.SetStatus(codes.Error, "")
			span.SetAttributes(semconv.ErrorTypeKey.String("store"))
		}
	}
	span.End()
}

// traced runs one store call in a span.
func traced[T any](s *Store, ctx context.Context, op string, f func(context.Context) (T, error)) (T, error) {
	ctx, span := s.start(ctx, op)
	v, err := f(ctx)
	end(span, err)
	return v, err
}

func tracedErr(s *Store, ctx context.Context, op string, f func(context.Context) error) error {
	ctx, span := s.start(ctx, op)
	err := f(ctx)
	end(span, err)
	return err
}

func (s *Store) Ping(ctx context.Context) error {
	return tracedErr(s, ctx, "Ping", s.Store.Ping)
}

func (s *Store) CreateUser(ctx context.Context, u bookstore.User) error {
	return tracedErr(s, ctx, "CreateUser", func(ctx context.Context) error { return s.Store.CreateUser(ctx, u) })
}

func (s *Store) CreateFirstAdmin(ctx context.Context, u bookstore.User) (bool, error) {
	return traced(s, ctx, "CreateFirstAdmin", func(ctx context.Context) (bool, error) { return s.Store.CreateFirstAdmin(ctx, u) })
}

func (s *Store) FindUserByID(ctx context.Context, id uuid.UUID) (bookstore.User, error) {
	return traced(s, ctx, "FindUserByID", func(ctx context.Context) (bookstore.User, error) { return s.Store.FindUserByID(ctx, id) })
}

func (s *Store) FindUserByUsername(ctx context.Context, username string) (bookstore.User, error) {
	return traced(s, ctx, "FindUserByUsername", func(ctx context.Context) (bookstore.User, error) {
		return s.Store.FindUserByUsername(ctx, username)
	})
}

func (s *Store) ListUsers(ctx context.Context, f bookstore.UserFilter) ([]bookstore.User, error) {
	return traced(s, ctx, "ListUsers", func(ctx context.Context) ([]bookstore.User, error) { return s.Store.ListUsers(ctx, f) })
}

func (s *Store) SetUserAdmin(ctx context.Context, id uuid.UUID, admin bool) (bookstore.User, error) {
	return traced(s, ctx, "SetUserAdmin", func(ctx context.Context) (bookstore.User, error) { return s.Store.SetUserAdmin(ctx, id, admin) })
}

func (s *Store) SetPasswordHash(ctx context.Context, id uuid.UUID, verified, hash string) error {
	return tracedErr(s, ctx, "SetPasswordHash", func(ctx context.Context) error { return s.Store.SetPasswordHash(ctx, id, verified, hash) })
}

func (s *Store) ChangePassword(ctx context.Context, id uuid.UUID, hash string, keep uuid.UUID, now time.Time) error {
	return tracedErr(s, ctx, "ChangePassword", func(ctx context.Context) error { return s.Store.ChangePassword(ctx, id, hash, keep, now) })
}

func (s *Store) DeleteUser(ctx context.Context, id uuid.UUID) error {
	return tracedErr(s, ctx, "DeleteUser", func(ctx context.Context) error { return s.Store.DeleteUser(ctx, id) })
}

func (s *Store) CreateSession(ctx context.Context, sess bookstore.Session, refreshHash []byte, credentialVersion int64) error {
	return tracedErr(s, ctx, "CreateSession", func(ctx context.Context) error {
		return s.Store.CreateSession(ctx, sess, refreshHash, credentialVersion)
	})
}

func (s *Store) AuthenticateSession(ctx context.Context, sessionID, userID uuid.UUID, now time.Time) (bookstore.Principal, error) {
	return traced(s, ctx, "AuthenticateSession", func(ctx context.Context) (bookstore.Principal, error) {
		return s.Store.AuthenticateSession(ctx, sessionID, userID, now)
	})
}

func (s *Store) RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, now time.Time) (bookstore.Session, error) {
	return traced(s, ctx, "RotateRefreshToken", func(ctx context.Context) (bookstore.Session, error) {
		return s.Store.RotateRefreshToken(ctx, oldHash, newHash, now)
	})
}

func (s *Store) RevokeSessionByRefreshToken(ctx context.Context, hash []byte, now time.Time) (bookstore.Session, error) {
	return traced(s, ctx, "RevokeSessionByRefreshToken", func(ctx context.Context) (bookstore.Session, error) {
		return s.Store.RevokeSessionByRefreshToken(ctx, hash, now)
	})
}

func (s *Store) RevokeSession(ctx context.Context, userID, sessionID uuid.UUID, now time.Time) error {
	return tracedErr(s, ctx, "RevokeSession", func(ctx context.Context) error { return s.Store.RevokeSession(ctx, userID, sessionID, now) })
}

func (s *Store) RevokeUserSessions(ctx context.Context, userID uuid.UUID, now time.Time) error {
	return tracedErr(s, ctx, "RevokeUserSessions", func(ctx context.Context) error { return s.Store.RevokeUserSessions(ctx, userID, now) })
}

func (s *Store) ListSessions(ctx context.Context, userID uuid.UUID, now time.Time) ([]bookstore.Session, error) {
	return traced(s, ctx, "ListSessions", func(ctx context.Context) ([]bookstore.Session, error) {
		return s.Store.ListSessions(ctx, userID, now)
	})
}

func (s *Store) CreateBook(ctx context.Context, b bookstore.Book, key *bookstore.IdempotencyKey) (bookstore.Book, error) {
	return traced(s, ctx, "CreateBook", func(ctx context.Context) (bookstore.Book, error) { return s.Store.CreateBook(ctx, b, key) })
}

func (s *Store) FindBookByID(ctx context.Context, id uuid.UUID) (bookstore.Book, error) {
	return traced(s, ctx, "FindBookByID", func(ctx context.Context) (bookstore.Book, error) { return s.Store.FindBookByID(ctx, id) })
}

func (s *Store) ListBooks(ctx context.Context, f bookstore.BookFilter) ([]bookstore.Book, error) {
	return traced(s, ctx, "ListBooks", func(ctx context.Context) ([]bookstore.Book, error) { return s.Store.ListBooks(ctx, f) })
}

func (s *Store) UpdateBook(ctx context.Context, id uuid.UUID, change func(*bookstore.Book) error) (bookstore.Book, error) {
	return traced(s, ctx, "UpdateBook", func(ctx context.Context) (bookstore.Book, error) { return s.Store.UpdateBook(ctx, id, change) })
}

func (s *Store) DeleteBook(ctx context.Context, id uuid.UUID, check func(bookstore.Book) error) error {
	return tracedErr(s, ctx, "DeleteBook", func(ctx context.Context) error { return s.Store.DeleteBook(ctx, id, check) })
}

func (s *Store) SigningKeys(ctx context.Context) ([]bookstore.SigningKey, error) {
	return traced(s, ctx, "SigningKeys", s.Store.SigningKeys)
}

func (s *Store) AddSigningKey(ctx context.Context, k bookstore.SigningKey) error {
	return tracedErr(s, ctx, "AddSigningKey", func(ctx context.Context) error { return s.Store.AddSigningKey(ctx, k) })
}

func (s *Store) RotateSigningKey(ctx context.Context, k bookstore.SigningKey, now time.Time) error {
	return tracedErr(s, ctx, "RotateSigningKey", func(ctx context.Context) error { return s.Store.RotateSigningKey(ctx, k, now) })
}

func (s *Store) DeleteRetiredSigningKeys(ctx context.Context, before time.Time) (int64, error) {
	return traced(s, ctx, "DeleteRetiredSigningKeys", func(ctx context.Context) (int64, error) {
		return s.Store.DeleteRetiredSigningKeys(ctx, before)
	})
}

func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	return traced(s, ctx, "Secret", func(ctx context.Context) ([]byte, error) { return s.Store.Secret(ctx, name, generate) })
}

func (s *Store) TakeThrottle(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, time.Time, error) {
	var reset time.Time
	ok, err := traced(s, ctx, "TakeThrottle", func(ctx context.Context) (ok bool, err error) {
		ok, reset, err = s.Store.TakeThrottle(ctx, key, limit, window, now)
		return ok, err
	})
	return ok, reset, err
}

func (s *Store) RefundThrottle(ctx context.Context, key string, now time.Time) error {
	return tracedErr(s, ctx, "RefundThrottle", func(ctx context.Context) error { return s.Store.RefundThrottle(ctx, key, now) })
}

func (s *Store) RememberLoginAddress(ctx context.Context, key string, expiresAt time.Time) error {
	return tracedErr(s, ctx, "RememberLoginAddress", func(ctx context.Context) error {
		return s.Store.RememberLoginAddress(ctx, key, expiresAt)
	})
}

func (s *Store) IsLoginAddress(ctx context.Context, key string, now time.Time) (bool, error) {
	return traced(s, ctx, "IsLoginAddress", func(ctx context.Context) (bool, error) { return s.Store.IsLoginAddress(ctx, key, now) })
}

func (s *Store) ClearThrottle(ctx context.Context, key string) error {
	return tracedErr(s, ctx, "ClearThrottle", func(ctx context.Context) error { return s.Store.ClearThrottle(ctx, key) })
}

func (s *Store) SweepThrottle(ctx context.Context, now time.Time) (int64, error) {
	return traced(s, ctx, "SweepThrottle", func(ctx context.Context) (int64, error) { return s.Store.SweepThrottle(ctx, now) })
}

func (s *Store) SetPasswordChangeRequired(ctx context.Context, id uuid.UUID, required bool) error {
	return tracedErr(s, ctx, "SetPasswordChangeRequired", func(ctx context.Context) error {
		return s.Store.SetPasswordChangeRequired(ctx, id, required)
	})
}

func (s *Store) ImportUser(ctx context.Context, u bookstore.User, source, sourceID string, now time.Time) (bool, error) {
	return traced(s, ctx, "ImportUser", func(ctx context.Context) (bool, error) {
		return s.Store.ImportUser(ctx, u, source, sourceID, now)
	})
}

func (s *Store) RevokeExcessSessions(ctx context.Context, userID uuid.UUID, keep int, now time.Time) (int64, error) {
	return traced(s, ctx, "RevokeExcessSessions", func(ctx context.Context) (int64, error) {
		return s.Store.RevokeExcessSessions(ctx, userID, keep, now)
	})
}

func (s *Store) PurgeSessions(ctx context.Context, before time.Time, batch int) (int64, int64, error) {
	var tokens int64
	sessions, err := traced(s, ctx, "PurgeSessions", func(ctx context.Context) (n int64, err error) {
		n, tokens, err = s.Store.PurgeSessions(ctx, before, batch)
		return n, err
	})
	return sessions, tokens, err
}

func (s *Store) RetireSigningKeys(ctx context.Context, keep string, now time.Time) (int64, error) {
	return traced(s, ctx, "RetireSigningKeys", func(ctx context.Context) (int64, error) {
		return s.Store.RetireSigningKeys(ctx, keep, now)
	})
}

func (s *Store) RevokeSigningKey(ctx context.Context, kid string, successor bookstore.SigningKey, now time.Time) (bool, error) {
	return traced(s, ctx, "RevokeSigningKey", func(ctx context.Context) (bool, error) {
		return s.Store.RevokeSigningKey(ctx, kid, successor, now)
	})
}
