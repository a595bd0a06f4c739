-- name: CreateSession :exec
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip)
VALUES (@id, @user_id, @created_at, @last_used_at, @expires_at, @revoked_at, @user_agent, @ip);

-- The session with its user, when the session is live and belongs to user_id:
-- authenticating a request is this one indexed read.
-- name: AuthenticateSession :one
SELECT s.last_used_at, u.username, u.admin
FROM sessions s
JOIN users u ON u.id = s.user_id
WHERE s.id = @id
  AND s.user_id = @user_id
  AND s.revoked_at IS NULL
  AND s.expires_at > @now;

-- last_used_at only moves forward, whatever order concurrent touches commit in.
-- name: TouchSession :exec
UPDATE sessions SET last_used_at = @now WHERE id = @id AND last_used_at < @now;

-- FOR UPDATE: the caller decides on the session's liveness and then writes,
-- so a concurrent revocation waits for it (or it for the revocation) instead
-- of interleaving.
-- name: FindSessionByIDForUpdate :one
SELECT * FROM sessions WHERE id = @id FOR UPDATE;

-- name: ListSessions :many
SELECT * FROM sessions
WHERE user_id = @user_id AND revoked_at IS NULL AND expires_at > @now
ORDER BY created_at DESC, id DESC;

-- Revocation keeps the first revocation time.
-- name: RevokeSession :one
UPDATE sessions SET revoked_at = coalesce(revoked_at, @now::timestamptz) WHERE id = @id RETURNING *;

-- name: RevokeLiveUserSession :execrows
UPDATE sessions SET revoked_at = @now::timestamptz
WHERE id = @id AND user_id = @user_id AND revoked_at IS NULL AND expires_at > @now::timestamptz;

-- name: RevokeUserSessions :exec
UPDATE sessions SET revoked_at = @now::timestamptz WHERE user_id = @user_id AND revoked_at IS NULL;

-- name: RevokeUserSessionsExcept :exec
UPDATE sessions SET revoked_at = @now::timestamptz
WHERE user_id = @user_id AND id <> @keep::uuid AND revoked_at IS NULL;

-- name: SetSessionLastUsed :one
UPDATE sessions SET last_used_at = @now WHERE id = @id RETURNING *;

-- name: CreateRefreshToken :exec
INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (@token_hash, @session_id, @created_at);

-- FOR UPDATE: two replicas presenting the same token serialise here; the
-- second sees it spent and treats the presentation as reuse.
-- name: FindRefreshTokenForUpdate :one
SELECT * FROM refresh_tokens WHERE token_hash = @token_hash FOR UPDATE;

-- name: SpendRefreshToken :execrows
UPDATE refresh_tokens SET spent_at = @now::timestamptz WHERE token_hash = @token_hash AND spent_at IS NULL;
