-- name: CreateUser :exec
INSERT INTO users (id, username, password_hash, admin, created_at, password_change_required)
VALUES (@id, @username, @password_hash, @admin, @created_at, @password_change_required);

-- name: FindUserByID :one
SELECT * FROM users WHERE id = @id;

-- username_key is lower(username) under the C collation (ASCII folding, as
-- SQLite's NOCASE): the lookup is case-insensitive and uses the unique index.
-- name: FindUserByUsername :one
SELECT * FROM users WHERE username_key = lower(CAST(@username AS text) COLLATE "C");

-- strpos matches query as a literal substring (no wildcards to escape), and
-- both sides are folded like username_key. The keyset (username_key, id) >
-- (after_username folded, after_id) applies only when has_after is true; a
-- NULL max_rows means no limit.
-- name: ListUsers :many
SELECT * FROM users
WHERE strpos(username_key, lower(CAST(@query AS text) COLLATE "C")) > 0
  AND (NOT @has_after::boolean
       OR (username_key, id) > (lower(CAST(@after_username AS text) COLLATE "C"), @after_id::uuid))
ORDER BY username_key, id
LIMIT sqlc.narg(max_rows)::bigint;

-- name: SetUserAdmin :one
UPDATE users SET admin = @admin WHERE id = @id RETURNING *;

-- name: SetPasswordHash :execrows
UPDATE users SET password_hash = @password_hash WHERE id = @id;

-- name: DeleteUser :execrows
DELETE FROM users WHERE id = @id;

-- A password chosen under today's policy: the hash, and the end of any
-- forced change. (SetPasswordHash, the rehash of the same password, keeps
-- the flag.)
-- name: SetNewPassword :execrows
UPDATE users SET password_hash = @password_hash, password_change_required = false WHERE id = @id;

-- name: SetPasswordChangeRequired :execrows
UPDATE users SET password_change_required = @required WHERE id = @id;
