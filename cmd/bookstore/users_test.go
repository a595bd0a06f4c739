package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/proctest"
)

// runUserCommand runs the built program with stdin and env.
func runUserCommand(t *testing.T, stdin string, env map[string]string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	return runBinaryWithStdin(t, t.TempDir(), stdin, list, args...)
}

// TestUserRecovery drives the account-recovery commands of the real binary
// against a database (issue 12, item 1).
func TestUserRecovery(t *testing.T) {
	database := testDatabase(t)
	env := map[string]string{"BOOKSTORE_DATABASE_URL": database}
	ctx := context.Background()
	const newPassword = "a brand new and long passphrase"

	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		status, stdout, stderr := runUserCommand(t, stdin, env, args...)
		if status != 0 {
			t.Fatalf("bookstore %s: status %d\n%s", strings.Join(args, " "), status, stderr)
		}
		return stdout
	}
	mustRun(goodPassword+"\n", "user", "create", "--username", "root", "--admin")
	aliceID := uuid.MustParse(strings.TrimSpace(mustRun(goodPassword+"\n", "user", "create", "--username", "alice")))

	db := openTestStore(t, database)
	alice, err := db.FindUserByID(ctx, aliceID)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	sess := bookstore.Session{ID: uuid.New(), UserID: aliceID, CreatedAt: now, LastUsedAt: now, AuthTime: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateSession(ctx, sess, []byte("alice's refresh token hash......"), alice.CredentialVersion); err != nil {
		t.Fatal(err)
	}

	t.Run("set-password", func(t *testing.T) {
		refused := []struct {
			name, stdin string
			args        []string
			status      int
			want        string
		}{
			{"weak", "short\n", []string{"alice"}, 1, "password must be at least 15 characters"},
			{"contains the username", "alice in the garden of glass\n", []string{"alice"}, 1, "must not contain the username"},
			{"no password", "", []string{"alice"}, 1, "no password on stdin"},
			{"unknown user", newPassword + "\n", []string{"nobody"}, 1, "there is no user nobody"},
			{"no username", newPassword + "\n", nil, 2, "want a USERNAME"},
		}
		for _, tt := range refused {
			status, _, stderr := runUserCommand(t, tt.stdin, env, append([]string{"user", "set-password"}, tt.args...)...)
			if status != tt.status || !strings.Contains(stderr, tt.want) {
				t.Errorf("%s: status %d, stderr %q; want %d and %q", tt.name, status, stderr, tt.status, tt.want)
			}
		}
		if got, _ := db.FindUserByID(ctx, aliceID); got.PasswordHash != alice.PasswordHash {
			t.Fatal("a refused set-password changed the hash")
		}

		out := mustRun(newPassword+"\n", "user", "set-password", "alice")
		if !strings.Contains(out, "password set for alice") {
			t.Errorf("stdout %q", out)
		}
		if _, err := db.AuthenticateSession(ctx, sess.ID, aliceID, time.Now()); !errors.Is(err, bookstore.ErrUnauthorized) {
			t.Errorf("alice's session survived set-password: %v", err)
		}
		got, _ := db.FindUserByID(ctx, aliceID)
		hasher, err := auth.NewHasher(auth.DefaultArgon2Params(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, err := hasher.Verify(ctx, got.PasswordHash, newPassword); !ok || err != nil {
			t.Errorf("the new password does not verify: %v %v", ok, err)
		}
		if ok, _, _ := hasher.Verify(ctx, got.PasswordHash, goodPassword); ok {
			t.Error("the old password still verifies")
		}
	})

	t.Run("admins", func(t *testing.T) {
		status, _, stderr := runUserCommand(t, "", env, "user", "revoke-admin", "root")
		if status != 1 || !strings.Contains(stderr, "at least one admin must remain") {
			t.Fatalf("revoking the last admin: status %d, %q", status, stderr)
		}
		mustRun("", "user", "grant-admin", "alice")
		mustRun("", "user", "revoke-admin", "root", "--log-level", "warn")
		list := mustRun("", "user", "list")
		lines := strings.Split(strings.TrimSpace(list), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") {
			t.Fatalf("user list:\n%s", list)
		}
		for _, want := range []struct{ name, admin string }{{"alice", "true"}, {"root", "false"}} {
			found := false
			for _, l := range lines[1:] {
				f := strings.Fields(l)
				found = found || len(f) == 4 && f[1] == want.name && f[2] == want.admin
			}
			if !found {
				t.Errorf("user list has no %s with admin=%s:\n%s", want.name, want.admin, list)
			}
		}
		if status, _, stderr := runUserCommand(t, "", env, "user", "grant-admin", "nobody"); status != 1 || !strings.Contains(stderr, "there is no user nobody") {
			t.Errorf("grant-admin to nobody: %d %q", status, stderr)
		}
	})

	t.Run("help and mistakes", func(t *testing.T) {
		if status, stdout, _ := runUserCommand(t, "", env, "user", "--help"); status != 0 || !strings.Contains(stdout, "set-password") {
			t.Errorf("user --help: %d %q", status, stdout)
		}
		if status, _, stderr := runUserCommand(t, "", env, "user", "frobnicate"); status != 2 || !strings.Contains(stderr, "unknown subcommand") {
			t.Errorf("user frobnicate: %d %q", status, stderr)
		}
	})
}

// TestAdminFromEnvironmentOnlyWhileNoAdmin: the environment's admin is
// created only while the database has no admin at all, so deleting or
// demoting it is respected across restarts (issue 15, item 8).
func TestAdminFromEnvironmentOnlyWhileNoAdmin(t *testing.T) {
	database := testDatabase(t)
	env := map[string]string{
		"BOOKSTORE_DATABASE_URL":   database,
		"BOOKSTORE_ADMIN_USERNAME": "root",
		"BOOKSTORE_ADMIN_PASSWORD": goodPassword,
	}
	start := func() (*Main, *proctest.Buffer) {
		t.Helper()
		m, logs := NewTestMain(t, env)
		MustRunMain(t, m)
		return m, logs
	}
	m, _ := start()
	c := newClient(t, m.Addr())
	root := login(t, c, "root", goodPassword)
	// A second admin, who then deletes the environment's admin.
	if r, _ := c.RegisterUserWithResponse(t.Context(), oapi.RegisterRequest{Username: "second", Password: goodPassword}); r.JSON201 == nil {
		t.Fatalf("register: %s", r.Body)
	}
	users, _ := c.ListUsersWithResponse(t.Context(), nil, bearer(root.AccessToken))
	var rootID, secondID uuid.UUID
	for _, u := range users.JSON200.Items {
		if u.Username == "root" {
			rootID = u.Id
		} else {
			secondID = u.Id
		}
	}
	if r, _ := c.UpdateUserWithApplicationMergePatchPlusJSONBodyWithResponse(t.Context(), secondID, oapi.UserPatch{Admin: true}, bearer(root.AccessToken)); r.JSON200 == nil {
		t.Fatalf("grant admin: %s", r.Body)
	}
	second := login(t, c, "second", goodPassword)
	if r, _ := c.DeleteUserWithResponse(t.Context(), rootID, bearer(second.AccessToken)); r.StatusCode() != 204 {
		t.Fatalf("delete root: %d %s", r.StatusCode(), r.Body)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m, logs := start()
	c = newClient(t, m.Addr())
	if r, _ := c.LoginWithResponse(t.Context(), oapi.LoginRequest{Username: "root", Password: goodPassword}); r.StatusCode() != 401 {
		t.Fatalf("the deleted environment admin came back: login %d", r.StatusCode())
	}
	if !strings.Contains(logs.String(), "the database has an admin") {
		t.Errorf("the log does not say why the environment's admin was not created:\n%s", logs.String())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPasswordPromptOnATerminal runs the real binary on a pseudo-terminal
// (util-linux script(1)): user create and user set-password prompt for the
// password twice and refuse two that differ.
func TestPasswordPromptOnATerminal(t *testing.T) {
	scriptPath, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed: no pseudo-terminal to test with")
	}
	database := testDatabase(t)
	onTerminal := func(typed string, args ...string) (int, string) {
		t.Helper()
		line := "'" + proctest.Binary(t) + "' " + strings.Join(args, " ") + " --log-level warn"
		cmd := exec.Command(scriptPath, "-qec", line, "/dev/null")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "SHELL=/bin/sh", "BOOKSTORE_DATABASE_URL=" + database}
		cmd.Stdin = strings.NewReader(typed)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), string(out)
	}
	status, out := onTerminal(goodPassword+"\n"+goodPassword+"\n", "user", "create", "--username", "alice")
	if status != 0 || !strings.Contains(out, "New password:") || !strings.Contains(out, "Repeat the password:") {
		t.Fatalf("user create on a terminal: status %d\n%s", status, out)
	}
	status, out = onTerminal("a brand new and long passphrase\na brand new and long passphrase, typo\n", "user", "set-password", "alice")
	if status != 1 || !strings.Contains(out, "the two passwords differ") {
		t.Fatalf("set-password with two different entries: status %d\n%s", status, out)
	}
	status, out = onTerminal("a brand new and long passphrase\na brand new and long passphrase\n", "user", "set-password", "alice")
	if status != 0 || !strings.Contains(out, "password set for alice") {
		t.Fatalf("set-password on a terminal: status %d\n%s", status, out)
	}
	db := openTestStore(t, database)
	u, err := db.FindUserByUsername(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := auth.NewHasher(auth.DefaultArgon2Params(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := hasher.Verify(t.Context(), u.PasswordHash, "a brand new and long passphrase"); !ok {
		t.Fatal("the password typed on the terminal was not the one set")
	}
}
