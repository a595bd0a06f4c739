// Package schema embeds the SQL that is not Go: the migrations of each
// database engine, so the binary can migrate without files on disk. The
// queries are compiled into gen/ by sqlc and need no embedding.
//
// The directory is sql/, but the package is named schema so that importing it
// does not shadow database/sql.
package schema

import "embed"

// SQLiteMigrations holds the goose migrations for SQLite under
// sqlite/migrations/ (use fs.Sub to root a migration provider there).
//
//go:embed sqlite/migrations/*.sql
var SQLiteMigrations embed.FS

// PostgresMigrations holds the goose migrations for PostgreSQL under
// postgres/migrations/.
//
//go:embed postgres/migrations/*.sql
var PostgresMigrations embed.FS
