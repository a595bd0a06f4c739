-- name: CreateSession :exec
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip, auth_time)
VALUES (@id, @user_id, @created_at, @last_used_at, @expires_at, @revoked_at, @user_agent, @ip, @auth_time);

-- The session with its user, when the session is live and belongs to user_id:
-- authenticating a request is this one indexed read.
-- name: AuthenticateSession :one
SELECT s.last_used_at, u.username, u.admin, u.password_change_required
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

-- Ends the user's live sessions but the newest @keep (the cap on live
-- sessions per user): one statement, so concurrent logins each trim to the
-- cap and the last one leaves at most @keep.
-- name: RevokeExcessSessions :execrows
UPDATE sessions SET revoked_at = @now::timestamptz
WHERE sessions.user_id = @user_id AND sessions.revoked_at IS NULL AND sessions.expires_at > @now::timestamptz
  AND sessions.id NOT IN (
    SELECT newer.id FROM sessions newer
    WHERE newer.user_id = @user_id AND newer.revoked_at IS NULL AND newer.expires_at > @now::timestamptz
    ORDER BY newer.created_at DESC, newer.id DESC
    LIMIT @keep::int);

-- Keeps the newest @keep spent tokens of a session (enough to recognise
-- the reuse of a recent one) and deletes the rest, so a session's rows stay
-- bounded however often it refreshes.
-- name: TrimSpentRefreshTokens :execrows
DELETE FROM refresh_tokens
WHERE refresh_tokens.session_id = @session_id AND refresh_tokens.spent_at IS NOT NULL
  AND refresh_tokens.token_hash NOT IN (
    SELECT newer.token_hash FROM refresh_tokens newer
    WHERE newer.session_id = @session_id AND newer.spent_at IS NOT NULL
    ORDER BY newer.spent_at DESC, newer.token_hash DESC
    LIMIT @keep::int);

-- One batch of sessions that expired or were revoked before @before (their
-- refresh tokens go with them, ON DELETE CASCADE). SKIP LOCKED: replicas
-- purging at once take different rows instead of waiting on each other,
-- and a session being refreshed is left for the next batch.
-- name: PurgeEndedSessions :execrows
DELETE FROM sessions WHERE id IN (
    SELECT ended.id FROM sessions ended
    WHERE ended.expires_at < @before::timestamptz OR ended.revoked_at < @before::timestamptz
    LIMIT @batch::int
    FOR UPDATE SKIP LOCKED);

-- One batch of refresh tokens spent before @before.
-- name: PurgeSpentRefreshTokens :execrows
DELETE FROM refresh_tokens WHERE token_hash IN (
    SELECT spent.token_hash FROM refresh_tokens spent WHERE spent.spent_at < @before::timestamptz
    LIMIT @batch::int
    FOR UPDATE SKIP LOCKED);
