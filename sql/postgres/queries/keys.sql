-- name: SigningKeys :many
SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC;

-- name: AddSigningKey :exec
INSERT INTO signing_keys (kid, alg, secret, created_at, retired_at)
VALUES (@kid, @alg, @secret, @created_at, @retired_at);

-- name: FindSecret :one
SELECT value FROM server_secrets WHERE name = @name;

-- The first writer wins; later ones keep what is stored and read it back. A
-- concurrent insert of the same name waits for the first to commit.
-- name: InsertSecret :exec
INSERT INTO server_secrets (name, value, created_at) VALUES (@name, @value, @created_at)
ON CONFLICT (name) DO NOTHING;
