-- Records an imported account; nothing when the source id was imported
-- before (the caller then creates nothing). A concurrent import of the same
-- id waits for this one to commit, then does nothing.
-- name: RecordImportedAccount :execrows
INSERT INTO imported_accounts (source, source_id, user_id, imported_at)
VALUES (@source, @source_id, @user_id, @imported_at)
ON CONFLICT (source, source_id) DO NOTHING;
