-- name: SigningKeys :many
SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC;

-- name: AddSigningKey :exec
INSERT INTO signing_keys (kid, alg, secret, created_at, retired_at)
VALUES (@kid, @alg, @secret, @created_at, @retired_at);

-- A rotation is LockSigningKeys, RetireSigningKeys, then AddSigningKey in one
-- transaction. The lock conflicts with itself and with every write to the
-- table (not with reads), so concurrent rotations run one after another and
-- each retires the key the previous one added: a retire that merely waited
-- on row locks would not see a key inserted meanwhile.
-- name: LockSigningKeys :exec
LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE;

-- Every live key but @keep ('' for none) is retired; a key already retired
-- keeps its time, so a retirement is stored once.
-- name: RetireSigningKeys :execrows
UPDATE signing_keys SET retired_at = @now::timestamptz
WHERE retired_at IS NULL AND kid <> @keep::text;

-- A revocation (after LockSigningKeys): the key is gone at once, retired or
-- not. RETURNING tells whether it was live (and needs a successor).
-- name: DeleteSigningKey :one
DELETE FROM signing_keys WHERE kid = @kid RETURNING retired_at;

-- name: DeleteRetiredSigningKeys :execrows
DELETE FROM signing_keys WHERE retired_at < @before::timestamptz;

-- name: FindSecret :one
SELECT value FROM server_secrets WHERE name = @name;

-- The first writer wins; later ones keep what is stored and read it back. A
-- concurrent insert of the same name waits for the first to commit.
-- name: InsertSecret :exec
INSERT INTO server_secrets (name, value, created_at) VALUES (@name, @value, @created_at)
ON CONFLICT (name) DO NOTHING;
