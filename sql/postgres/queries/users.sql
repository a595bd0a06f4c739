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

-- The ids of every admin, locked: a demotion or deletion of an admin takes
-- these locks first (in id order, so two never deadlock), and a concurrent
-- one waits, then re-reads the rows that are still admins. Of two demotions
-- of the last two admins, the second sees one admin left and refuses.
-- With no admin yet there is no row to lock: two first-admin creations
-- (replicas starting with different BOOKSTORE_ADMIN_USERNAMEs) serialise on
-- this transaction-level advisory lock instead, so only one creates.
-- name: LockFirstAdminCreation :exec
SELECT pg_advisory_xact_lock(7306531985120811649);

-- name: LockAdminIDs :many
SELECT id FROM users WHERE admin ORDER BY id FOR UPDATE;

-- A rehash on login: only if the hash is still the one that was verified,
-- so it can never undo a password change that committed in between.
-- name: RehashPassword :execrows
UPDATE users SET password_hash = @password_hash WHERE id = @id AND password_hash = @verified_hash;

-- "End every session": logins in flight must not start one either.
-- name: BumpCredentialVersion :execrows
UPDATE users SET credential_version = credential_version + 1 WHERE id = @id;

-- FOR SHARE: a session insert holds the user row against a concurrent
-- credential change (which updates the row first) until it commits, and
-- one that waited reads the version the change wrote.
-- name: LockCredentialVersion :one
SELECT credential_version FROM users WHERE id = @id FOR SHARE;

-- name: DeleteUser :execrows
DELETE FROM users WHERE id = @id;

-- A password chosen under today's policy: the hash, and the end of any
-- forced change. (RehashPassword, the rehash of the same password, keeps
-- the flag.) The credential version moves on: every session the old
-- password started must end, and any login still checking the old password
-- must not start one.
-- name: SetNewPassword :execrows
UPDATE users SET password_hash = @password_hash, password_change_required = false,
    credential_version = credential_version + 1
WHERE id = @id;

-- name: SetPasswordChangeRequired :execrows
UPDATE users SET password_change_required = @required WHERE id = @id;
