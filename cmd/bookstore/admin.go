package main

import (
	"context"
	"io"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlagSet("migrate", getenv, databaseSettings("log-level")...)
	if err := parseFlags(f, args, stdout, "Usage: bookstore migrate [flags]\n\nApply the pending database migrations and exit. serve also applies them at start.\n"); err != nil {
		return err
	}
	database, err := f.database()
	if err != nil {
		return err
	}
	level, err := f.logLevel()
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, database)
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	newLogger(stderr, level).Info("migrated", "database", database.String())
	return nil
}
