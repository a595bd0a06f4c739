package httpapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

func (s *Server) RegisterUser(ctx context.Context, req oapi.RegisterUserRequestObject) (oapi.RegisterUserResponseObject, error) {
	info := requestInfoFrom(ctx)
	// Every attempt counts, taken or refused alike: each one costs a hash
	// and tells whether a username exists.
	if _, err := s.throttle.Take(ctx, s.now(), s.throttle.RegisterKey(info.clientIP)); err != nil {
		return nil, err
	}
	u, err := auth.NewUser(ctx, s.hasher, s.policy, req.Body.Username, req.Body.Password, false, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, bookstore.ErrConflict) {
			return nil, newProblem(409, oapi.ProblemsusernameTaken, "The username is taken.",
				"the username "+u.Username+" is taken (usernames are compared case-insensitively)")
		}
		return nil, err
	}
	s.log.InfoContext(ctx, "user registered", "event", "user_registered", "user_id", u.ID, "ip", info.clientIP)
	return oapi.RegisterUser201JSONResponse{
		Body:    userOut(u),
		Headers: oapi.RegisterUser201ResponseHeaders{Location: "/users/" + u.ID.String()},
	}, nil
}

func (s *Server) Login(ctx context.Context, req oapi.LoginRequestObject) (oapi.LoginResponseObject, error) {
	info := requestInfoFrom(ctx)
	var username, password string
	basic, hasBasic := basicCredentialsFrom(ctx)
	switch {
	case req.Body != nil:
		username, password = req.Body.Username, req.Body.Password
	case hasBasic:
		username, password = basic.username, basic.password
	default:
		return nil, badRequest("send the username and password as a JSON body or with HTTP Basic",
			oapi.FieldError{Field: "body", Message: "credentials are required"})
	}
	now := s.now()
	slots, err := s.throttle.TakeLogin(ctx, now, username, info.clientIP)
	if err != nil {
		if errors.Is(err, bookstore.ErrThrottled) {
			s.log.WarnContext(ctx, "login throttled", "event", "login_throttled", "ip", info.clientIP)
		}
		return nil, err
	}
	u, err := s.hasher.CheckPassword(ctx, s.store, username, password)
	if errors.Is(err, auth.ErrUnusableHash) {
		s.log.ErrorContext(ctx, "stored password hash refused; the login fails", "event", "password_hash_unusable", "reason", err.Error())
	}
	if errors.Is(err, auth.ErrInvalidCredentials) {
		s.log.InfoContext(ctx, "login failed", "event", "login_failed", "ip", info.clientIP)
		s.metrics.loginFailed()
		return nil, invalidCredentials()
	}
	if err != nil {
		// Not a guess (the server is busy or failing): give the slots back.
		return nil, errors.Join(err, s.throttle.Refund(ctx, now, slots))
	}
	if err := s.throttle.LoginSucceeded(ctx, now, username, info.clientIP, slots); err != nil {
		return nil, err
	}
	mustChange, err := s.reviewImportedPassword(ctx, u, password)
	if err != nil {
		return nil, err
	}
	pair, sessionID, err := s.startSession(ctx, u, info)
	if errors.Is(err, bookstore.ErrCredentialChanged) {
		// The password changed (or every session was ended) while this
		// one was being checked: what was verified is no longer current.
		s.log.InfoContext(ctx, "login failed", "event", "login_failed", "user_id", u.ID, "ip", info.clientIP, "reason", "credentials changed")
		return nil, invalidCredentials()
	}
	if err != nil {
		return nil, err
	}
	if mustChange {
		pair.Body.PasswordChangeRequired = &mustChange
	}
	s.log.InfoContext(ctx, "login succeeded", "event", "login_succeeded", "user_id", u.ID, "session_id", sessionID, "ip", info.clientIP,
		"password_change_required", mustChange)
	s.metrics.loginSucceeded()
	return oapi.Login200JSONResponse{TokenPairJSONResponse: pair}, nil
}

// reviewImportedPassword settles, while the password is at hand, whether a
// flagged account (an imported password, never checked against the policy)
// must change it: a password that passes today's policy clears the flag; one
// that fails keeps it, and the sessions can only change the password until
// it is changed.
func (s *Server) reviewImportedPassword(ctx context.Context, u bookstore.User, password string) (mustChange bool, err error) {
	if !u.PasswordChangeRequired {
		return false, nil
	}
	if s.policy.Check(u.Username, password) != nil {
		return true, nil
	}
	if err := s.store.SetPasswordChangeRequired(ctx, u.ID, false); err != nil {
		return true, err
	}
	return false, nil
}

// startSession opens a session for u, whose password was just verified, and
// returns its first token pair. The store refuses it if u's credentials
// changed since they were read (ErrCredentialChanged).
func (s *Server) startSession(ctx context.Context, u bookstore.User, info *requestInfo) (oapi.TokenPairJSONResponse, uuid.UUID, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return oapi.TokenPairJSONResponse{}, id, fmt.Errorf("new session id: %w", err)
	}
	refresh, refreshHash, err := auth.NewRefreshToken()
	if err != nil {
		return oapi.TokenPairJSONResponse{}, id, err
	}
	now := s.now().Truncate(time.Millisecond)
	sess := bookstore.Session{
		ID: id, UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.refreshTTL), AuthTime: now,
		UserAgent: info.userAgent, IP: info.clientIP,
	}
	if err := s.store.CreateSession(ctx, sess, refreshHash, u.CredentialVersion); err != nil {
		return oapi.TokenPairJSONResponse{}, id, err
	}
	s.capSessions(ctx, u.ID, now)
	pair, err := s.tokenPair(sess, refresh)
	return pair, id, err
}

// capSessions ends the user's oldest live sessions beyond the cap. The new
// session is the newest, so it stays. A failure is logged, not the login's:
// the next login trims again.
func (s *Server) capSessions(ctx context.Context, userID uuid.UUID, now time.Time) {
	if s.maxSessions <= 0 {
		return
	}
	n, err := s.store.RevokeExcessSessions(ctx, userID, s.maxSessions, now)
	if err != nil {
		s.log.WarnContext(ctx, "sessions over the cap not ended", "user_id", userID, "error", err.Error())
		return
	}
	if n > 0 {
		s.log.InfoContext(ctx, "oldest sessions ended: over the cap", "event", "session_revoked", "reason", revokedSessionCap,
			"user_id", userID, "sessions", n, "cap", s.maxSessions)
		s.metrics.sessionsRevoked(revokedSessionCap, n)
	}
}

func (s *Server) tokenPair(sess bookstore.Session, refresh string) (oapi.TokenPairJSONResponse, error) {
	access, expiresAt, err := s.tokens.Issue(sess.UserID, sess.ID, sess.AuthTime)
	if err != nil {
		return oapi.TokenPairJSONResponse{}, err
	}
	expiresIn := int(time.Until(expiresAt).Round(time.Second) / time.Second)
	if expiresIn < 1 {
		expiresIn = 1
	}
	return oapi.TokenPairJSONResponse{
		Body: oapi.TokenPair{
			AccessToken:  access,
			TokenType:    oapi.Bearer,
			ExpiresIn:    expiresIn,
			RefreshToken: refresh,
		},
		Headers: oapi.TokenPairResponseHeaders{CacheControl: "no-store"},
	}, nil
}

func (s *Server) RefreshToken(ctx context.Context, req oapi.RefreshTokenRequestObject) (oapi.RefreshTokenResponseObject, error) {
	ip := requestInfoFrom(ctx).clientIP
	now := s.now()
	keys, err := s.throttle.Take(ctx, now, s.throttle.RefreshKey(ip))
	if err != nil {
		return nil, err
	}
	next, nextHash, err := auth.NewRefreshToken()
	if err != nil {
		return nil, err
	}
	presented, err := auth.HashRefreshToken(req.Body.RefreshToken)
	var sess bookstore.Session
	if err == nil {
		sess, err = s.store.RotateRefreshToken(ctx, presented, nextHash, now)
	}
	if err != nil {
		if errors.Is(err, bookstore.ErrRefreshReused) {
			s.log.WarnContext(ctx, "refresh token reused; session revoked", "event", "refresh_reuse_detected",
				"session_id", sess.ID, "user_id", sess.UserID, "ip", ip)
			s.metrics.refreshReuse()
		}
		return nil, s.refreshRefused(ctx, now, keys, err)
	}
	if err := s.throttle.Refund(ctx, now, keys); err != nil {
		return nil, err
	}
	pair, err := s.tokenPair(sess, next)
	if err != nil {
		return nil, err
	}
	return oapi.RefreshToken200JSONResponse{TokenPairJSONResponse: pair}, nil
}

// refreshRefused words the answer to a refused refresh token as about a
// refresh token, not an access token. The token keeps the slot it took
// against the client's address; any other failure gives it back.
func (s *Server) refreshRefused(ctx context.Context, now time.Time, keys []auth.ThrottleKey, err error) error {
	if !errors.Is(err, bookstore.ErrUnauthorized) && !errors.Is(err, bookstore.ErrRefreshReused) {
		return errors.Join(err, s.throttle.Refund(ctx, now, keys))
	}
	if errors.Is(err, bookstore.ErrRefreshReused) {
		return err
	}
	return bearerChallenge(true, "the refresh token is invalid, expired or revoked")
}

// Logout always ends the access token's session, whatever the body holds,
// so a bad refresh token cannot keep it alive. The body's refresh token adds
// its own session; with a valid access token, a refresh token that ends
// nothing is ignored (but keeps the throttle slot it took, like any refused
// refresh token). The refresh token is tried first so that sending both
// tokens of one session is not counted as a refused refresh token.
func (s *Server) Logout(ctx context.Context, req oapi.LogoutRequestObject) (oapi.LogoutResponseObject, error) {
	info := requestInfoFrom(ctx)
	p, authenticated := principalFrom(ctx)
	hasRefresh := req.Body != nil && req.Body.RefreshToken != nil && strings.TrimSpace(*req.Body.RefreshToken) != ""
	if !authenticated && !hasRefresh {
		if info.authErr != nil {
			return nil, info.authErr
		}
		return nil, bearerChallenge(false, "send the access token (Authorization: Bearer) or the refresh token in the body")
	}
	now := s.now()
	var refreshErr error
	var taken []auth.ThrottleKey
	if hasRefresh {
		taken, refreshErr = s.throttle.Take(ctx, now, s.throttle.RefreshKey(info.clientIP))
		var hash []byte
		var sess bookstore.Session
		if refreshErr == nil {
			hash, refreshErr = auth.HashRefreshToken(*req.Body.RefreshToken)
		}
		if refreshErr == nil {
			sess, refreshErr = s.store.RevokeSessionByRefreshToken(ctx, hash, now)
		}
		if refreshErr == nil {
			if err := s.throttle.Refund(ctx, now, taken); err != nil {
				return nil, err
			}
			s.log.InfoContext(ctx, "logged out", "event", "session_revoked", "user_id", sess.UserID, "session_id", sess.ID)
			s.metrics.sessionRevoked(revokedLogout)
		}
	}
	if authenticated {
		err := s.store.RevokeSession(ctx, p.UserID, p.SessionID, now)
		switch {
		case err == nil:
			s.log.InfoContext(ctx, "logged out", "event", "session_revoked", "user_id", p.UserID, "session_id", p.SessionID)
			s.metrics.sessionRevoked(revokedLogout)
		case !errors.Is(err, bookstore.ErrNotFound): // not found: the refresh token ended it
			return nil, errors.Join(err, s.throttle.Refund(ctx, now, taken))
		}
	}
	var throttled *auth.ThrottledError
	switch {
	case refreshErr == nil:
	case errors.As(refreshErr, &throttled):
		if !authenticated {
			return nil, refreshErr
		}
		// The session the caller proved it holds has ended; that is the answer.
	case authenticated && (errors.Is(refreshErr, bookstore.ErrUnauthorized) || errors.Is(refreshErr, bookstore.ErrRefreshReused)):
		// Refused, and counted: the slot it took stays spent.
	default:
		return nil, s.refreshRefused(ctx, now, taken, refreshErr)
	}
	return oapi.Logout204Response{}, nil
}

func (s *Server) GetJwks(ctx context.Context, _ oapi.GetJwksRequestObject) (oapi.GetJwksResponseObject, error) {
	keys := s.tokens.Keyring().JWKS(s.now())
	out := oapi.JWKSet{Keys: make([]oapi.JWK, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, oapi.JWK{Kty: k.Kty, Crv: &k.Crv, X: &k.X, Kid: k.KID, Alg: k.Alg, Use: k.Use})
	}
	return oapi.GetJwks200JSONResponse{
		Body:    out,
		Headers: oapi.GetJwks200ResponseHeaders{CacheControl: "public, max-age=300"},
	}, nil
}
