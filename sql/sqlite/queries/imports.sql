-- Records an imported account; nothing when the source id was imported
-- before (the caller then creates nothing).
-- name: RecordImportedAccount :execrows
INSERT INTO imported_accounts (source, source_id, user_id, imported_at)
VALUES (@source, @source_id, @user_id, @imported_at)
ON CONFLICT (source, source_id) DO NOTHING;
