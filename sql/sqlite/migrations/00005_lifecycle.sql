-- Account lifecycle (issue 15): tables that stay small, and imports that
-- respect the present.

-- +goose Up
-- The purge finds ended sessions and spent refresh tokens by time, in
-- batches, without scanning the tables.
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX refresh_tokens_spent_at ON refresh_tokens (spent_at) WHERE spent_at IS NOT NULL;

-- 1 while the user's password has not been shown to meet today's policy
-- (an imported one, until a login checks it) or failed it: the user's
-- sessions may only change the password.
ALTER TABLE users ADD COLUMN password_change_required INTEGER NOT NULL DEFAULT 0
    CHECK (password_change_required IN (0, 1));

-- Every account an import brought in, by the source's id, kept after the
-- account is deleted (so user_id is deliberately not a foreign key): a
-- second run of the import skips it instead of bringing it back.
CREATE TABLE imported_accounts (
    source      TEXT    NOT NULL,
    source_id   TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (source, source_id)
) STRICT;

-- Accounts imported before this migration have ids derived from the seed's
-- (UUIDv5, the version digit is the 15th character): record them, so a
-- deleted one is not brought back either. Those still on their werkzeug
-- hash never had their password checked against the policy.
INSERT INTO imported_accounts (source, source_id, user_id, imported_at)
SELECT 'flask-tutorial', id, id, created_at FROM users WHERE substr(id, 15, 1) = '5';
UPDATE users SET password_change_required = 1 WHERE substr(password_hash, 1, 1) <> '$';

-- +goose Down
DROP TABLE imported_accounts;
ALTER TABLE users DROP COLUMN password_change_required;
DROP INDEX refresh_tokens_spent_at;
DROP INDEX sessions_revoked_at;
DROP INDEX sessions_expires_at;
