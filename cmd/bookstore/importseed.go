package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bookstore/bookstore/internal/seedimport"
)

const importSeedUsage = `Usage: bookstore import-seed [flags] PATH

Import the Flask JWT tutorial's bookstore.db at PATH (its users and books
tables, read-only) into the configured database. With Flask-SQLAlchemy 3
the tutorial's database is instance/bookstore.db in the app's directory
(older versions: bookstore.db next to the app).

Users keep their werkzeug password hashes (sha256$salt$hash,
pbkdf2:HASH:N$salt$hash, scrypt:N:r:p$salt$hash): they log in with their old
password, which is then rehashed with argon2id. Their passwords never met
today's policy: the first login checks it, and a password that fails leaves
the user able to do nothing but change it. The seed's admins are imported as
regular users unless --import-admins is given. Books map name to title,
Author to author, Publisher to publisher and book_prize to price_cents (see
--prize-unit).

Users whose name breaks the username rules (3 to 50 of A-Z a-z 0-9 _ . -) or
clashes with another (case-insensitively), users without a usable hash or
with one over the cost caps, and books with a missing field or a skipped
owner are reported and skipped. Running it again imports nothing twice, and
never brings back an account deleted here since: every imported account is
recorded.
`

func runImportSeed(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlagSet("import-seed", getenv, databaseSettings("log-level")...)
	unit := f.fs.String("prize-unit", "whole", "what book_prize counts: `whole` currency units (12 → 1200 cents) or cents")
	admins := f.fs.Bool("import-admins", false, "make the seed's admins admins here (default: regular users)")
	path, err := parseWithPath(f, args, stdout, importSeedUsage, "import-seed: want the PATH of the Flask app's bookstore.db")
	if err != nil {
		return err
	}
	opts := seedimport.Options{Admins: *admins}
	switch strings.ToLower(*unit) {
	case "whole":
		opts.PrizeUnit = seedimport.Whole
	case "cents":
		opts.PrizeUnit = seedimport.Cents
	default:
		return usagef("--prize-unit: %q is neither whole nor cents", *unit)
	}
	database, err := f.database()
	if err != nil {
		return err
	}
	level, err := f.logLevel()
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		return usagef("import-seed: no file at %s (with Flask-SQLAlchemy 3 the tutorial's database is instance/bookstore.db)", path)
	}
	undo := undoNewSQLite(database) // a failed import leaves no new file
	report, err := importSeed(ctx, database, path, opts)
	undo(err)
	if err != nil {
		return fmt.Errorf("import-seed: %w", err)
	}
	printReport(stdout, path, report, opts.PrizeUnit)
	newLogger(stderr, level).Info("imported the seed", "seed", path, "database", database.String(),
		"users", report.UsersImported, "books", report.BooksImported, "skipped", len(report.Skipped))
	return nil
}

func importSeed(ctx context.Context, database Database, path string, opts seedimport.Options) (seedimport.Report, error) {
	db, err := openDatabase(ctx, database)
	if err != nil {
		return seedimport.Report{}, err
	}
	report, err := seedimport.Import(ctx, path, db, opts)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return report, err
}

// parseWithPath parses flags and the one PATH argument, which may come
// before or after them. usage is the command's help; missing the error
// when there is no PATH.
func parseWithPath(f *flagSet, args []string, stdout io.Writer, usage, missing string) (string, error) {
	help := func(err error) error {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "%s\n", usage)
			f.printUsage(stdout)
			return err
		}
		return syntaxf("%s", err)
	}
	var path string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		path, args = args[0], args[1:]
	}
	if err := f.fs.Parse(args); err != nil {
		return "", help(err)
	}
	if rest := f.fs.Args(); len(rest) > 0 && path == "" {
		path = rest[0]
		if err := f.fs.Parse(rest[1:]); err != nil {
			return "", help(err)
		}
	}
	if f.fs.NArg() > 0 {
		return "", syntaxf("unexpected argument %q", f.fs.Arg(0))
	}
	if path == "" {
		return "", syntaxf("%s", missing)
	}
	return path, nil
}

func printReport(w io.Writer, path string, r seedimport.Report, unit seedimport.PrizeUnit) {
	fmt.Fprintf(w, "Imported %s:\n", path)
	fmt.Fprintf(w, "  users: %d imported (admins: %d), %d already imported, %d skipped\n",
		r.UsersImported, r.AdminsImported, r.UsersAlready, len(r.Skips("users")))
	if r.AdminsDemoted > 0 {
		fmt.Fprintf(w, "  %d of the seed's admins imported as regular users (--import-admins keeps them admins)\n", r.AdminsDemoted)
	}
	fmt.Fprintf(w, "  books: %d imported, %d already imported, %d skipped\n",
		r.BooksImported, r.BooksAlready, len(r.Skips("books")))
	if len(r.Skipped) > 0 {
		fmt.Fprintln(w, "Skipped:")
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	if unit == seedimport.Whole {
		fmt.Fprintln(w, "Prices: book_prize was read as whole currency units (12 → price_cents 1200); --prize-unit=cents reads it as cents.")
	} else {
		fmt.Fprintln(w, "Prices: book_prize was read as cents (12 → price_cents 12).")
	}
}
