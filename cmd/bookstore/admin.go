package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
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

const userUsage = `Usage: bookstore user create --username NAME [--admin] [flags]

Create a user and print its id. The password is read from stdin: one line,
the trailing newline removed. It must pass the same rules as registration.
For example:

  printf '%s\n' "$PASSWORD" | bookstore user create --username alice --admin
`

func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] != "create" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			io.WriteString(stdout, userUsage)
			return nil
		}
		return usagef("user: want the subcommand create")
	}
	f := newFlagSet("user create", getenv, databaseSettings("min-password-length", "log-level")...)
	username := f.fs.String("username", "", "the new user's `NAME` (3 to 50 of A-Z a-z 0-9 _ . -)")
	admin := f.fs.Bool("admin", false, "make the user an admin")
	if err := parseFlags(f, args[1:], stdout, userUsage); err != nil {
		return err
	}
	if *username == "" {
		return usagef("user create: --username is required")
	}
	database, err := f.database()
	if err != nil {
		return err
	}
	minLength, err := f.minPasswordLength()
	if err != nil {
		return err
	}
	level, err := f.logLevel()
	if err != nil {
		return err
	}
	password, err := readPassword(stdin)
	if err != nil {
		return err
	}

	// The rules are checked (and the password hashed) before the database
	// is touched: a refused password changes nothing.
	policy, err := auth.NewPasswordPolicy(minLength)
	if err != nil {
		return err
	}
	hasher, err := auth.NewHasher(auth.DefaultArgon2Params(), 1)
	if err != nil {
		return err
	}
	u, err := auth.NewUser(ctx, hasher, policy, *username, password, *admin, time.Now())
	if err != nil {
		return errors.New(clientMessage(err))
	}

	db, err := openDatabase(ctx, database)
	if err != nil {
		return err
	}
	err = db.CreateUser(ctx, u)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, bookstore.ErrConflict) {
		return fmt.Errorf("the username %s is taken (usernames are compared case-insensitively)", u.Username)
	}
	if err != nil {
		return err
	}
	newLogger(stderr, level).Info("created user", "username", u.Username, "user_id", u.ID.String(), "admin", u.Admin)
	fmt.Fprintln(stdout, u.ID)
	return nil
}

// maxPasswordLine bounds what is read from stdin: the policy allows 128
// code points, at most 512 bytes.
const maxPasswordLine = 4 << 10

// readPassword reads one line from r without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxPasswordLine+1), 512).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	if len(line) > maxPasswordLine {
		return "", errors.New("the password on stdin is too long")
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("no password on stdin: pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | bookstore user create ...")
	}
	return line, nil
}
