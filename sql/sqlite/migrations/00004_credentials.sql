-- Account lifecycle (issues 9 and 15).
--
-- credential_version counts the changes that must end every session of a
-- user: a new password (by the user, an admin or the command line) and "end
-- every session". A login remembers the version it read with the hash it
-- verified, and its session is inserted only if the version is still the same,
-- in the transaction that inserts it: a credential change that commits while
-- the password is being checked leaves no session behind.
--
-- auth_time is when the password login that started the session happened
-- (unix ms). Refreshing keeps it; access tokens carry it (RFC 9470) so that
-- destructive self-service can ask for a recent login. Existing sessions take
-- their creation time, which is when their login happened.

-- +goose Up
ALTER TABLE users ADD COLUMN credential_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN auth_time INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET auth_time = created_at;

-- +goose Down
ALTER TABLE sessions DROP COLUMN auth_time;
ALTER TABLE users DROP COLUMN credential_version;
