package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"golang.org/x/term"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

const userUsage = `Usage:
  bookstore user create --username NAME [--admin] [flags]
                                   create a user and print its id
  bookstore user set-password USERNAME [flags]
                                   set a user's password and end every session of theirs
  bookstore user list [flags]      list the users: id, username, admin, created
  bookstore user grant-admin USERNAME [flags]
  bookstore user revoke-admin USERNAME [flags]
                                   make a user an admin, or not (the last admin stays)

These work on the database directly, with the server running or not: they are
the way back in when nobody can log in as an admin. A password is read from
stdin (one line, the trailing newline removed), or prompted for twice without
echo when stdin is a terminal. It must pass the same rules as registration.
For example:

  printf '%s\n' "$PASSWORD" | bookstore user create --username alice --admin
  bookstore user set-password alice

Run 'bookstore user SUBCOMMAND --help' for the flags.
`

func runUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return syntaxf("user: want a subcommand: create, set-password, list, grant-admin or revoke-admin")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		io.WriteString(stdout, userUsage)
		return nil
	case "create":
		return runUserCreate(ctx, rest, stdin, stdout, stderr, getenv)
	case "set-password":
		return runUserSetPassword(ctx, rest, stdin, stdout, stderr, getenv)
	case "list":
		return runUserList(ctx, rest, stdout, getenv)
	case "grant-admin", "revoke-admin":
		return runUserAdmin(ctx, sub, rest, stdout, stderr, getenv)
	}
	return syntaxf("user: unknown subcommand %q; want create, set-password, list, grant-admin or revoke-admin", sub)
}

func runUserCreate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlagSet("user create", getenv, databaseSettings("min-password-length", "log-level")...)
	username := f.fs.String("username", "", "the new user's `NAME` (3 to 50 of A-Z a-z 0-9 _ . -)")
	admin := f.fs.Bool("admin", false, "make the user an admin")
	if err := parseFlags(f, args, stdout, userUsage); err != nil {
		return err
	}
	if *username == "" {
		return usagef("user create: --username is required")
	}
	database, policy, level, err := passwordSettings(f)
	if err != nil {
		return err
	}
	password, err := readNewPassword(stdin, stderr)
	if err != nil {
		return err
	}
	// The rules are checked (and the password hashed) before the database
	// is touched: a refused password changes nothing.
	hasher, err := auth.NewHasher(auth.DefaultArgon2Params(), 1)
	if err != nil {
		return err
	}
	u, err := auth.NewUser(ctx, hasher, policy, *username, password, *admin, time.Now())
	if err != nil {
		return errors.New(bookstore.ClientMessage(err))
	}
	err = withDatabase(ctx, database, func(db store) error { return db.CreateUser(ctx, u) })
	if errors.Is(err, bookstore.ErrConflict) {
		return fmt.Errorf("the username %s is taken (usernames are compared case-insensitively)", u.Username)
	}
	if err != nil {
		return err
	}
	newLogger(stderr, level).Info("created user", "event", "user_registered", "username", u.Username, "user_id", u.ID.String(), "admin", u.Admin)
	fmt.Fprintln(stdout, u.ID)
	return nil
}

// runUserSetPassword is account recovery from the shell: a new password,
// and every session of the user ended (logins in flight included).
func runUserSetPassword(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlagSet("user set-password", getenv, databaseSettings("min-password-length", "log-level")...)
	username, err := nameThenFlags(f, "set-password", args, stdout)
	if err != nil {
		return err
	}
	database, policy, level, err := passwordSettings(f)
	if err != nil {
		return err
	}
	return withDatabase(ctx, database, func(db store) error {
		u, err := findUser(ctx, db, username)
		if err != nil {
			return err
		}
		password, err := readNewPassword(stdin, stderr)
		if err != nil {
			return err
		}
		if err := policy.Check(u.Username, password); err != nil {
			return errors.New(bookstore.ClientMessage(err))
		}
		hasher, err := auth.NewHasher(auth.DefaultArgon2Params(), 1)
		if err != nil {
			return err
		}
		hash, err := hasher.Hash(ctx, password)
		if err != nil {
			return err
		}
		if err := db.ChangePassword(ctx, u.ID, hash, uuid.Nil, time.Now()); err != nil {
			return err
		}
		newLogger(stderr, level).Info("password set from the command line; every session ended",
			"event", "password_set", "username", u.Username, "user_id", u.ID.String())
		fmt.Fprintf(stdout, "password set for %s; every session of theirs has ended\n", u.Username)
		return nil
	})
}

func runUserList(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	f := newFlagSet("user list", getenv, databaseSettings()...)
	if err := parseFlags(f, args, stdout, userUsage); err != nil {
		return err
	}
	database, err := f.database()
	if err != nil {
		return err
	}
	return withDatabase(ctx, database, func(db store) error {
		users, err := db.ListUsers(ctx, bookstore.UserFilter{}) // no limit
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tUSERNAME\tADMIN\tCREATED")
		for _, u := range users {
			fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", u.ID, u.Username, u.Admin, u.CreatedAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	})
}

func runUserAdmin(ctx context.Context, sub string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlagSet("user "+sub, getenv, databaseSettings("log-level")...)
	username, err := nameThenFlags(f, sub, args, stdout)
	if err != nil {
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
	admin := sub == "grant-admin"
	return withDatabase(ctx, database, func(db store) error {
		u, err := findUser(ctx, db, username)
		if err != nil {
			return err
		}
		if _, err := db.SetUserAdmin(ctx, u.ID, admin); err != nil {
			if errors.Is(err, bookstore.ErrLastAdmin) {
				return errors.New(bookstore.ClientMessage(err))
			}
			return err
		}
		event := "admin_removed"
		if admin {
			event = "admin_granted"
		}
		newLogger(stderr, level).Info("admin flag changed from the command line", "event", event, "username", u.Username, "user_id", u.ID.String())
		fmt.Fprintf(stdout, "%s: admin=%v\n", u.Username, admin)
		return nil
	})
}

// nameThenFlags reads "USERNAME [flags]": the name comes first, since Go's
// flag package stops at the first argument that is not a flag.
func nameThenFlags(f *flagSet, sub string, args []string, stdout io.Writer) (string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := parseFlags(f, args, stdout, userUsage); err != nil {
			return "", err
		}
		return "", syntaxf("user %s: want a USERNAME", sub)
	}
	return args[0], parseFlags(f, args[1:], stdout, userUsage)
}

// passwordSettings reads the settings of the commands that set a password.
func passwordSettings(f *flagSet) (database Database, policy auth.PasswordPolicy, level slog.Level, err error) {
	if database, err = f.database(); err != nil {
		return
	}
	minLength, err := f.minPasswordLength()
	if err != nil {
		return
	}
	if level, err = f.logLevel(); err != nil {
		return
	}
	policy, err = auth.NewPasswordPolicy(minLength)
	return
}

// withDatabase opens (and migrates) the database, runs fn and closes it.
func withDatabase(ctx context.Context, database Database, fn func(db store) error) error {
	db, err := openDatabase(ctx, database)
	if err != nil {
		return err
	}
	err = fn(db)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

func findUser(ctx context.Context, db store, username string) (bookstore.User, error) {
	u, err := db.FindUserByUsername(ctx, username)
	if errors.Is(err, bookstore.ErrNotFound) {
		return u, fmt.Errorf("there is no user %s", username)
	}
	return u, err
}

// maxPasswordLine bounds what is read from stdin: the policy allows 128
// code points, at most 512 bytes.
const maxPasswordLine = 4 << 10

// readNewPassword prompts for the password twice without echo when stdin
// is a terminal, and otherwise reads one line from it.
func readNewPassword(stdin io.Reader, prompt io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptPassword(int(f.Fd()), prompt)
	}
	return readPassword(stdin)
}

// promptPassword asks twice on the terminal fd, echo off, and insists the
// two agree: a typo in a password nobody can see would lock the user out.
func promptPassword(fd int, prompt io.Writer) (string, error) {
	read := func(label string) (string, error) {
		fmt.Fprint(prompt, label)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read the password from the terminal: %w", err)
		}
		return string(b), nil
	}
	first, err := read("New password: ")
	if err != nil {
		return "", err
	}
	if first == "" {
		return "", errors.New("no password given")
	}
	second, err := read("Repeat the password: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("the two passwords differ; nothing was changed")
	}
	return first, nil
}

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
