-- name: SigningKeys :many
SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC;

-- name: AddSigningKey :exec
INSERT INTO signing_keys (kid, alg, secret, created_at, retired_at)
VALUES (@kid, @alg, @secret, @created_at, @retired_at);

-- A rotation is RetireSigningKeys then AddSigningKey in one transaction.
-- Every live key but @keep ('' for none) is retired; a key already retired
-- keeps its time, so a retirement is stored once. (@now is cast because sqlc
-- would otherwise type it after the nullable column.)
-- name: RetireSigningKeys :execrows
UPDATE signing_keys SET retired_at = CAST(@now AS INTEGER)
WHERE retired_at IS NULL AND kid <> @keep;

-- A revocation: the key is gone at once, retired or not. RETURNING tells
-- whether it was live (and needs a successor).
-- name: DeleteSigningKey :one
DELETE FROM signing_keys WHERE kid = @kid RETURNING retired_at;

-- name: DeleteRetiredSigningKeys :execrows
DELETE FROM signing_keys WHERE retired_at < CAST(@before AS INTEGER);

-- name: FindSecret :one
SELECT value FROM server_secrets WHERE name = @name;

-- The first writer wins; later ones keep what is stored and read it back.
-- name: InsertSecret :exec
INSERT INTO server_secrets (name, value, created_at) VALUES (@name, @value, @created_at)
ON CONFLICT (name) DO NOTHING;
