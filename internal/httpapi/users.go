package httpapi

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// caller returns the authenticated principal. The validator lets secured
// operations through only with one, so its absence is a server bug.
func caller(ctx context.Context) (bookstore.Principal, error) {
	p, ok := principalFrom(ctx)
	if !ok {
		return p, errors.New("secured operation reached without a principal")
	}
	return p, nil
}

// adminCaller returns the principal if it is an admin, else 403.
func adminCaller(ctx context.Context) (bookstore.Principal, error) {
	p, err := caller(ctx)
	if err == nil && !p.Admin {
		err = forbidden("this operation is for admins only")
	}
	return p, err
}

func userNotFound() *problem { return notFound("user not found") }

func (s *Server) GetCurrentUser(ctx context.Context, _ oapi.GetCurrentUserRequestObject) (oapi.GetCurrentUserResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.store.FindUserByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	return oapi.GetCurrentUser200JSONResponse(userOut(u)), nil
}

func (s *Server) ChangePassword(ctx context.Context, req oapi.ChangePasswordRequestObject) (oapi.ChangePasswordResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	keys, err := s.throttle.Take(ctx, now, s.throttle.PasswordKey(p.UserID.String()))
	if err != nil {
		return nil, err
	}
	u, err := s.store.FindUserByID(ctx, p.UserID)
	if err != nil {
		return nil, errors.Join(err, s.throttle.Refund(ctx, now, keys))
	}
	ok, _, err := s.hasher.Verify(ctx, u.PasswordHash, req.Body.CurrentPassword)
	if err != nil {
		return nil, errors.Join(err, s.throttle.Refund(ctx, now, keys))
	}
	if !ok {
		return nil, newProblem(403, oapi.ProblemswrongPassword, "The current password is wrong.", "current_password does not match your password")
	}
	// The right password is not a failure: its slot goes back.
	if err := s.throttle.Refund(ctx, now, keys); err != nil {
		return nil, err
	}
	if req.Body.NewPassword == req.Body.CurrentPassword {
		return nil, badRequest("new_password must differ from current_password",
			oapi.FieldError{Field: "new_password", Message: "must differ from the current password"})
	}
	if err := s.policy.Check(u.Username, req.Body.NewPassword); err != nil {
		return nil, renameField(err, "password", "new_password")
	}
	hash, err := s.hasher.Hash(ctx, req.Body.NewPassword)
	if err != nil {
		return nil, err
	}
	if err := s.store.ChangePassword(ctx, u.ID, hash, p.SessionID, s.now()); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "password changed", "event", "password_changed", "user_id", u.ID, "session_id", p.SessionID)
	s.metrics.sessionRevoked(revokedPassword)
	return oapi.ChangePassword204Response{}, nil
}

// renameField reports a domain field error under the request's field name.
func renameField(err error, from, to string) error {
	var de *bookstore.Error
	if !errors.As(err, &de) {
		return err
	}
	out := *de
	out.Fields = make([]bookstore.FieldError, len(de.Fields))
	for i, f := range de.Fields {
		if f.Field == from {
			f.Field = to
		}
		out.Fields[i] = f
	}
	out.Message = strings.Replace(out.Message, from, to, 1)
	return &out
}

func (s *Server) ListMySessions(ctx context.Context, _ oapi.ListMySessionsRequestObject) (oapi.ListMySessionsResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	sessions, err := s.store.ListSessions(ctx, p.UserID, s.now())
	if err != nil {
		return nil, err
	}
	out := oapi.SessionList{Items: make([]oapi.Session, len(sessions))}
	for i, sess := range sessions {
		out.Items[i] = oapi.Session{
			Id: sess.ID, CreatedAt: sess.CreatedAt, LastUsedAt: sess.LastUsedAt, ExpiresAt: sess.ExpiresAt,
			UserAgent: sess.UserAgent, Ip: sess.IP, Current: sess.ID == p.SessionID,
		}
	}
	return oapi.ListMySessions200JSONResponse(out), nil
}

func (s *Server) RevokeMySession(ctx context.Context, req oapi.RevokeMySessionRequestObject) (oapi.RevokeMySessionResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.store.RevokeSession(ctx, p.UserID, req.Id, s.now()); err != nil {
		if errors.Is(err, bookstore.ErrNotFound) {
			return nil, notFound("you have no live session with this id")
		}
		return nil, err
	}
	s.log.InfoContext(ctx, "session revoked", "event", "session_revoked", "user_id", p.UserID, "session_id", req.Id, "by", p.UserID)
	s.metrics.sessionRevoked(revokedByUser)
	return oapi.RevokeMySession204Response{}, nil
}

func (s *Server) ListUsers(ctx context.Context, req oapi.ListUsersRequestObject) (oapi.ListUsersResponseObject, error) {
	if _, err := adminCaller(ctx); err != nil {
		return nil, err
	}
	f := bookstore.UserFilter{Limit: pageLimit(req.Params.Limit)}
	if req.Params.Q != nil {
		f.Query = strings.TrimSpace(*req.Params.Q)
	}
	query := "users\x00" + f.Query
	if req.Params.Cursor != nil {
		pos, err := s.cursors.decode(query, *req.Params.Cursor)
		if err != nil {
			return nil, err
		}
		id, err := uuid.Parse(pos.ID)
		if err != nil {
			return nil, badRequest("the cursor is not valid", oapi.FieldError{Field: "query.cursor", Message: "is not valid"})
		}
		f.After = &bookstore.User{ID: id, Username: pos.Key}
	}
	want := f.Limit
	f.Limit++ // one more tells whether there is a next page
	users, err := s.store.ListUsers(ctx, f)
	if err != nil {
		return nil, err
	}
	page := oapi.UserPage{Items: make([]oapi.User, 0, min(len(users), want))}
	for i, u := range users {
		if i == want {
			last := users[i-1]
			page.NextCursor.Set(s.cursors.encode(query, pagePosition{Key: last.Username, ID: last.ID.String()}))
			break
		}
		page.Items = append(page.Items, userOut(u))
	}
	if !page.NextCursor.IsSpecified() {
		page.NextCursor.SetNull()
	}
	return oapi.ListUsers200JSONResponse(page), nil
}

func (s *Server) GetUser(ctx context.Context, req oapi.GetUserRequestObject) (oapi.GetUserResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !bookstore.CanSeeUser(p, req.Id) {
		return nil, userNotFound()
	}
	u, err := s.store.FindUserByID(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetUser200JSONResponse(userOut(u)), nil
}

func (s *Server) UpdateUser(ctx context.Context, req oapi.UpdateUserRequestObject) (oapi.UpdateUserResponseObject, error) {
	p, err := adminCaller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.store.SetUserAdmin(ctx, req.Id, req.Body.Admin)
	if err != nil {
		return nil, err
	}
	event := "admin_removed"
	if u.Admin {
		event = "admin_granted"
	}
	s.log.InfoContext(ctx, "admin flag changed", "event", event, "user_id", u.ID, "by", p.UserID)
	return oapi.UpdateUser200JSONResponse(userOut(u)), nil
}

func (s *Server) DeleteUser(ctx context.Context, req oapi.DeleteUserRequestObject) (oapi.DeleteUserResponseObject, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !bookstore.CanSeeUser(p, req.Id) {
		return nil, userNotFound()
	}
	if req.Id == p.UserID && !s.recentLogin(p) {
		s.log.InfoContext(ctx, "account deletion needs a recent login", "event", "step_up_required", "user_id", p.UserID, "session_id", p.SessionID)
		return nil, stepUpRequired(s.stepUpMaxAge)
	}
	if err := s.store.DeleteUser(ctx, req.Id); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "user deleted", "event", "user_deleted", "user_id", req.Id, "by", p.UserID)
	return oapi.DeleteUser204Response{}, nil
}

func (s *Server) RevokeUserSessions(ctx context.Context, req oapi.RevokeUserSessionsRequestObject) (oapi.RevokeUserSessionsResponseObject, error) {
	p, err := adminCaller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.store.RevokeUserSessions(ctx, req.Id, s.now()); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "sessions revoked", "event", "session_revoked", "user_id", req.Id, "by", p.UserID)
	s.metrics.sessionRevoked(revokedByAdmin)
	return oapi.RevokeUserSessions204Response{}, nil
}

// recentLogin reports whether p's password login is recent enough for a
// destructive change to its own account (RFC 9470). A token without
// auth_time (issued before it existed) never is.
func (s *Server) recentLogin(p bookstore.Principal) bool {
	return !p.AuthTime.IsZero() && s.now().Sub(p.AuthTime) <= s.stepUpMaxAge
}

// SetUserPassword is account recovery by an admin: a new password that
// meets the policy, and every session of the user ended, in one transaction
// that also stops logins in flight from starting one.
func (s *Server) SetUserPassword(ctx context.Context, req oapi.SetUserPasswordRequestObject) (oapi.SetUserPasswordResponseObject, error) {
	p, err := adminCaller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.store.FindUserByID(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	if err := s.policy.Check(u.Username, req.Body.Password); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, req.Body.Password)
	if err != nil {
		return nil, err
	}
	if err := s.store.ChangePassword(ctx, u.ID, hash, uuid.Nil, s.now()); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "password set by an admin", "event", "password_set", "user_id", u.ID, "by", p.UserID)
	s.metrics.sessionRevoked(revokedByAdmin)
	return oapi.SetUserPassword204Response{}, nil
}
