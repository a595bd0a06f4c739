-- name: CreateUser :exec
INSERT INTO users (id, username, password_hash, admin, created_at, password_change_required)
VALUES (@id, @username, @password_hash, @admin, @created_at, @password_change_required);

-- name: FindUserByID :one
SELECT * FROM users WHERE id = @id;

-- username is COLLATE NOCASE, so = matches case-insensitively (and uses the
-- unique index).
-- name: FindUserByUsername :one
SELECT * FROM users WHERE username = @username;

-- pattern is a LIKE pattern with '\' as the escape character; like() is
-- the function form of LIKE ... ESCAPE, which sqlc cannot parse parameters
-- after. The keyset (username, id) > (after_username, after_id) applies only
-- when has_after is true; username compares under its NOCASE collation, like
-- the ORDER BY.
-- name: ListUsers :many
SELECT * FROM users
WHERE like(@pattern, username, '\')
  AND (NOT CAST(@has_after AS BOOLEAN) OR (username, id) > (@after_username, @after_id))
ORDER BY username, id
LIMIT @limit;

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
UPDATE users SET password_hash = @password_hash, password_change_required = 0 WHERE id = @id;

-- name: SetPasswordChangeRequired :execrows
UPDATE users SET password_change_required = @required WHERE id = @id;
