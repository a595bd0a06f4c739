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
	u, err := auth.NewUser(ctx, s.hasher, s.policy, req.Body.Username, req.Body.Password, false, s.now())
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, bookstore.ErrConflict) {
			return nil, newProblem(409, typeUsernameTaken, "The username is taken.",
				"the username "+u.Username+" is taken (usernames are compared case-insensitively)")
		}
		return nil, err
	}
	return oapi.RegisterUser201JSONResponse{
		Body:    userOut(u),
		Headers: oapi.RegisterUser201ResponseHeaders{Location: "/users/" + u.ID.String()},
	}, nil
}

func (s *Server) Login(ctx context.Context, req oapi.LoginRequestObject) (oapi.LoginResponseObject, error) {
	info := requestInfoFrom(ctx)
	var username, password string
	switch {
	case req.Body != nil:
		username, password = req.Body.Username, req.Body.Password
	case info.hasBasic:
		username, password = info.basicUser, info.basicPassword
	default:
		return nil, badRequest("send the username and password as a JSON body or with HTTP Basic",
			fieldError{"body", "credentials are required"})
	}
	u, err := s.hasher.CheckPassword(ctx, s.store, username, password)
	if errors.Is(err, auth.ErrInvalidCredentials) {
		return nil, invalidCredentials()
	}
	if err != nil {
		return nil, err
	}
	pair, err := s.startSession(ctx, u.ID, info)
	if err != nil {
		return nil, err
	}
	return oapi.Login200JSONResponse{TokenPairJSONResponse: pair}, nil
}

// startSession opens a session for userID and returns its first token pair.
func (s *Server) startSession(ctx context.Context, userID uuid.UUID, info *requestInfo) (oapi.TokenPairJSONResponse, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return oapi.TokenPairJSONResponse{}, fmt.Errorf("new session id: %w", err)
	}
	refresh, refreshHash, err := auth.NewRefreshToken()
	if err != nil {
		return oapi.TokenPairJSONResponse{}, err
	}
	now := s.now().Truncate(time.Millisecond)
	sess := bookstore.Session{
		ID: id, UserID: userID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.refreshTTL),
		UserAgent: info.userAgent, IP: info.clientIP,
	}
	if err := s.store.CreateSession(ctx, sess, refreshHash); err != nil {
		return oapi.TokenPairJSONResponse{}, err
	}
	return s.tokenPair(sess, refresh)
}

func (s *Server) tokenPair(sess bookstore.Session, refresh string) (oapi.TokenPairJSONResponse, error) {
	access, expiresAt, err := s.tokens.Issue(sess.UserID, sess.ID)
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
	next, nextHash, err := auth.NewRefreshToken()
	if err != nil {
		return nil, err
	}
	presented, err := auth.HashRefreshToken(req.Body.RefreshToken)
	if err != nil {
		return nil, refreshRefused(err)
	}
	sess, err := s.store.RotateRefreshToken(ctx, presented, nextHash, s.now())
	if err != nil {
		if errors.Is(err, bookstore.ErrRefreshReused) {
			s.log.WarnContext(ctx, "refresh token reused; session revoked", "session_id", sess.ID, "user_id", sess.UserID,
				"ip", requestInfoFrom(ctx).clientIP)
		}
		return nil, refreshRefused(err)
	}
	pair, err := s.tokenPair(sess, next)
	if err != nil {
		return nil, err
	}
	return oapi.RefreshToken200JSONResponse{TokenPairJSONResponse: pair}, nil
}

// refreshRefused words a refused refresh token as such, not as an access token.
func refreshRefused(err error) error {
	if errors.Is(err, bookstore.ErrUnauthorized) && !errors.Is(err, bookstore.ErrRefreshReused) {
		return bearerChallenge(true, "the refresh token is invalid, expired or revoked")
	}
	return err
}

func (s *Server) Logout(ctx context.Context, req oapi.LogoutRequestObject) (oapi.LogoutResponseObject, error) {
	p, authenticated := principalFrom(ctx)
	hasRefresh := req.Body != nil && req.Body.RefreshToken != nil && strings.TrimSpace(*req.Body.RefreshToken) != ""
	if !authenticated && !hasRefresh {
		info := requestInfoFrom(ctx)
		if info.authErr != nil {
			return nil, info.authErr
		}
		return nil, bearerChallenge(false, "send the access token (Authorization: Bearer) or the refresh token in the body")
	}
	now := s.now()
	if hasRefresh {
		hash, err := auth.HashRefreshToken(*req.Body.RefreshToken)
		if err == nil {
			_, err = s.store.RevokeSessionByRefreshToken(ctx, hash, now)
		}
		if err != nil {
			return nil, refreshRefused(err)
		}
	}
	if authenticated {
		if err := s.store.RevokeSession(ctx, p.UserID, p.SessionID, now); err != nil && !errors.Is(err, bookstore.ErrNotFound) {
			return nil, err
		}
	}
	return oapi.Logout204Response{}, nil
}

func (s *Server) GetJwks(ctx context.Context, _ oapi.GetJwksRequestObject) (oapi.GetJwksResponseObject, error) {
	keys := s.keyring.JWKS()
	out := oapi.JWKSet{Keys: make([]oapi.JWK, 0, len(keys))}
	for _, k := range keys {
		out.Keys = append(out.Keys, oapi.JWK{Kty: k.Kty, Crv: &k.Crv, X: &k.X, Kid: k.KID, Alg: k.Alg, Use: k.Use})
	}
	return oapi.GetJwks200JSONResponse{
		Body:    out,
		Headers: oapi.GetJwks200ResponseHeaders{CacheControl: "public, max-age=300"},
	}, nil
}
