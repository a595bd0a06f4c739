-- name: SigningKeys :many
SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC;

-- name: AddSigningKey :exec
INSERT INTO signing_keys (kid, alg, secret, created_at, retired_at)
VALUES (@kid, @alg, @secret, @created_at, @retired_at);

-- A rotation is RetireSigningKeys then AddSigningKey in one transaction.
-- (@now is cast because sqlc would otherwise type it after the nullable
-- column.)
-- name: RetireSigningKeys :exec
UPDATE signing_keys SET retired_at = CAST(@now AS INTEGER) WHERE retired_at IS NULL;

-- name: DeleteRetiredSigningKeys :execrows
DELETE FROM signing_keys WHERE retired_at < CAST(@before AS INTEGER);

-- name: FindSecret :one
SELECT value FROM server_secrets WHERE name = @name;

-- The first writer wins; later ones keep what is stored and read it back.
-- name: InsertSecret :exec
INSERT INTO server_secrets (name, value, created_at) VALUES (@name, @value, @created_at)
ON CONFLICT (name) DO NOTHING;
