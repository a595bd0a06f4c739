package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/postgres/pgtest"
)

const goodPassword = "tangerine walrus under glass"

// runCmd runs the program with args, stdin and env and returns the exit
// status and both outputs.
func runCmd(t *testing.T, stdin string, env map[string]string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = run(t.Context(), args, strings.NewReader(stdin), &out, &errOut, envFunc(env))
	return status, out.String(), errOut.String()
}

func TestUserCreate(t *testing.T) {
	database := testDatabase(t)
	env := map[string]string{"BOOKSTORE_DATABASE_URL": database}

	status, stdout, stderr := runCmd(t, goodPassword+"\n", env, "user", "create", "--username", "root", "--admin")
	if status != 0 {
		t.Fatalf("status %d; stderr:\n%s", status, stderr)
	}
	id, err := uuid.Parse(strings.TrimSpace(stdout))
	if err != nil {
		t.Fatalf("stdout %q is not a user id: %v", stdout, err)
	}
	if strings.Contains(stderr, goodPassword) || strings.Contains(stderr, "$argon2id$") {
		t.Errorf("the log shows the password or its hash:\n%s", stderr)
	}

	db := openTestStore(t, database)
	u, err := db.FindUserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "root" || !u.Admin {
		t.Errorf("stored user = %q admin=%v; want root, admin", u.Username, u.Admin)
	}

	refused := []struct {
		name, stdin string
		args        []string
		env         map[string]string
		status      int
		want        string
	}{
		{name: "duplicate, any case", stdin: goodPassword + "\n", args: []string{"--username", "ROOT"}, env: env,
			status: 1, want: "taken"},
		{name: "too short", stdin: "short pw\r\n", args: []string{"--username", "bob"}, env: env,
			status: 1, want: "password must be at least 15 characters"},
		{name: "common", stdin: "passwordpassword", args: []string{"--username", "bob"}, env: env,
			status: 1, want: "password is too common"},
		{name: "empty", stdin: "\n", args: []string{"--username", "bob"}, env: env,
			status: 1, want: "no password on stdin"},
		{name: "no stdin", stdin: "", args: []string{"--username", "bob"}, env: env,
			status: 1, want: "no password on stdin"},
		{name: "no username", stdin: goodPassword, env: env,
			status: 2, want: "--username is required"},
		{name: "bad username", stdin: goodPassword, args: []string{"--username", "a b"}, env: env,
			status: 1, want: "username may contain only"},
		{name: "bad min length", stdin: goodPassword, args: []string{"--username", "bob", "--min-password-length", "7"}, env: env,
			status: 2, want: "--min-password-length"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			status, stdout, stderr := runCmd(t, tt.stdin, tt.env, append([]string{"user", "create"}, tt.args...)...)
			if status != tt.status || !strings.Contains(stderr, tt.want) {
				t.Errorf("status %d, stderr %q; want %d and %q", status, stderr, tt.status, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q; want nothing", stdout)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	database := testDatabase(t)
	if engine == pgtest.SQLite {
		database = "sqlite:" + database
	}
	for range 2 { // migrating twice is a no-op
		if status, _, stderr := runCmd(t, "", nil, "migrate", "--database", database); status != 0 {
			t.Fatalf("status %d; stderr:\n%s", status, stderr)
		}
	}
}
