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

-- The ids of every admin. Writers call it inside their transaction (which
-- holds SQLite's one write lock) before demoting or deleting an admin, so
-- the at-least-one-admin rule is checked and kept atomically.
-- name: ListAdminIDs :many
SELECT id FROM users WHERE admin = 1 ORDER BY id;

-- A rehash on login: only if the hash is still the one that was verified,
-- so it can never undo a password change that committed in between.
-- name: RehashPassword :execrows
UPDATE users SET password_hash = @password_hash WHERE id = @id AND password_hash = @verified_hash;

-- "End every session": logins in flight must not start one either.
-- name: BumpCredentialVersion :execrows
UPDATE users SET credential_version = credential_version + 1 WHERE id = @id;

-- name: FindCredentialVersion :one
SELECT credential_version FROM users WHERE id = @id;

-- name: DeleteUser :execrows
DELETE FROM users WHERE id = @id;

-- A password chosen under today's policy: the hash, and the end of any
-- forced change. (RehashPassword, the rehash of the same password, keeps
-- the flag.) The credential version moves on: every session the old
-- password started must end, and any login still checking the old password
-- must not start one.
-- name: SetNewPassword :execrows
UPDATE users SET password_hash = @password_hash, password_change_required = 0,
    credential_version = credential_version + 1
WHERE id = @id;

-- name: SetPasswordChangeRequired :execrows
UPDATE users SET password_change_required = @required WHERE id = @id;
