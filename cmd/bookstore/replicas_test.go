package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/bookstore/bookstore/internal/proctest"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookstore/bookstore/gen/oapi"
	"github.com/bookstore/bookstore/internal/postgres/pgtest"
	schema "github.com/bookstore/bookstore/sql"
)

// envRunAsBookstore makes the test binary run as the program (TestMain).
const envRunAsBookstore = "BOOKSTORE_TEST_RUN_AS_BOOKSTORE"

// replica is the program serving in a process of its own: this test
// binary, re-executed as `bookstore serve` (see TestMain), so the replica
// tests need no separate build. It shares nothing with the test or with
// other replicas but the database.
type replica struct {
	name   string
	cmd    *exec.Cmd
	logs   *proctest.Buffer // its stderr: the JSON log
	exited chan struct{}
	err    error // of the process, once exited is closed
	addr   string
	client *oapi.ClientWithResponses
}

// startReplica starts a replica on the database at dbURL, listening on a
// port of its own; it is stopped with SIGTERM when t ends, and t fails
// unless it then exits cleanly.
func startReplica(t *testing.T, name, dbURL string) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve")
	// Nothing of the test's own BOOKSTORE_ environment leaks in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BOOKSTORE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, envRunAsBookstore+"=1", "BOOKSTORE_ADDR=127.0.0.1:0", "BOOKSTORE_DATABASE_URL="+dbURL)
	r := &replica{name: name, cmd: cmd, logs: &proctest.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = r.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.err = cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop sends SIGTERM and waits for a clean exit.
func (r *replica) stop(t *testing.T) {
	select {
	case <-r.exited:
	default:
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(30 * time.Second):
			r.cmd.Process.Kill()
			<-r.exited
			t.Errorf("replica %s did not stop within 30 s of SIGTERM", r.name)
		}
	}
	if r.err != nil {
		t.Errorf("replica %s: %v; its log:\n%s", r.name, r.err, r.logs)
	}
}

// waitReady waits until the replica listens and its /readyz answers 200.
func (r *replica) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for r.addr == "" {
		sc := bufio.NewScanner(strings.NewReader(r.logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				r.addr = line.Addr
			}
		}
		r.checkAlive(t, deadline)
	}
	for {
		if res, err := http.Get("http://" + r.addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		r.checkAlive(t, deadline)
	}
	r.client = newClient(t, r.addr)
}

func (r *replica) checkAlive(t *testing.T, deadline time.Time) {
	t.Helper()
	select {
	case <-r.exited:
		t.Fatalf("replica %s exited (%v); its log:\n%s", r.name, r.err, r.logs)
	default:
	}
	if time.Now().After(deadline) {
		t.Fatalf("replica %s not ready within 60 s; its log:\n%s", r.name, r.logs)
	}
	time.Sleep(20 * time.Millisecond)
}

// startReplicas starts n replicas at once on dbURL and waits until all of
// them are ready.
func startReplicas(t *testing.T, dbURL string, n int) []*replica {
	t.Helper()
	rs := make([]*replica, n)
	for i := range rs {
		rs[i] = startReplica(t, string(rune('A'+i)), dbURL)
	}
	for _, r := range rs {
		r.waitReady(t)
	}
	return rs
}

// TestPostgresReplicas runs two server processes on one PostgreSQL
// database, as two replicas behind a load balancer, and sends each step of
// a flow to one or the other: whatever one replica did, the other honours
// on its very next request.
func TestPostgresReplicas(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.Schema(t)
	rs := startReplicas(t, dbURL, 2)
	a, b := rs[0].client, rs[1].client
	ctx := t.Context()

	if res, err := a.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: "alice", Password: goodPassword}); err != nil || res.StatusCode() != 201 {
		t.Fatalf("register on A: %v %v", res, err)
	}
	wantStatus := func(t *testing.T, what string, got, want int, body []byte) {
		t.Helper()
		if got != want {
			t.Errorf("%s: status %d, want %d: %s", what, got, want, body)
		}
	}
	me := func(t *testing.T, c *oapi.ClientWithResponses, token string) *oapi.GetCurrentUserResponse {
		t.Helper()
		res, err := c.GetCurrentUserWithResponse(ctx, bearer(token))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	t.Run("TokenFromAWorksOnB", func(t *testing.T) {
		tokens := login(t, a, "alice", goodPassword)
		res := me(t, b, tokens.AccessToken)
		if res.JSON200 == nil || res.JSON200.Username != "alice" {
			t.Fatalf("GET /users/me on B: %d %s", res.StatusCode(), res.Body)
		}
	})

	t.Run("LogoutOnBEndsTheTokenOnA", func(t *testing.T) {
		tokens := login(t, a, "alice", goodPassword)
		res := me(t, a, tokens.AccessToken)
		wantStatus(t, "GET /users/me on A before logout", res.StatusCode(), 200, res.Body)
		out, err := b.LogoutWithResponse(ctx, oapi.LogoutRequest{}, bearer(tokens.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "logout on B", out.StatusCode(), 204, out.Body)
		res = me(t, a, tokens.AccessToken)
		wantStatus(t, "GET /users/me on A after logout on B", res.StatusCode(), 401, res.Body)
		refreshed, err := a.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: tokens.RefreshToken})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "refresh on A after logout on B", refreshed.StatusCode(), 401, refreshed.Body)
	})

	t.Run("ReplayedRefreshTokenOnBRevokesEverywhere", func(t *testing.T) {
		first := login(t, a, "alice", goodPassword)
		res, err := a.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: first.RefreshToken})
		if err != nil || res.JSON200 == nil {
			t.Fatalf("refresh on A: %v %v", res, err)
		}
		second := *res.JSON200
		replay, err := b.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: first.RefreshToken})
		if err != nil {
			t.Fatal(err)
		}
		if replay.StatusCode() != 401 || !strings.Contains(string(replay.Body), "/problems/refresh-token-reused") {
			t.Fatalf("replaying the spent refresh token on B: %d %s; want 401 refresh-token-reused", replay.StatusCode(), replay.Body)
		}
		// The whole session is gone, on both replicas.
		for name, c := range map[string]*oapi.ClientWithResponses{"A": a, "B": b} {
			r := me(t, c, second.AccessToken)
			wantStatus(t, "the new access token on "+name, r.StatusCode(), 401, r.Body)
			again, err := c.RefreshTokenWithResponse(ctx, oapi.RefreshRequest{RefreshToken: second.RefreshToken})
			if err != nil {
				t.Fatal(err)
			}
			if again.StatusCode() != 401 {
				t.Errorf("the new refresh token on %s: %d %s; want 401", name, again.StatusCode(), again.Body)
			}
		}
	})

	t.Run("ConcurrentCreatesLandExactlyOnce", func(t *testing.T) {
		token := login(t, a, "alice", goodPassword).AccessToken
		const perReplica = 50
		clients := []*oapi.ClientWithResponses{a, b}
		ids := make([]string, 2*perReplica)
		var wg sync.WaitGroup
		for i := range 2 * perReplica {
			wg.Go(func() {
				key := fmt.Sprintf("create-%03d", i)
				body := oapi.BookCreate{Title: fmt.Sprintf("Book %03d", i), Author: "Replica Test", Publisher: "P", PriceCents: int64(i)}
				res, err := clients[i%2].CreateBookWithResponse(ctx, &oapi.CreateBookParams{IdempotencyKey: &key}, body, bearer(token))
				if err != nil || res.JSON201 == nil {
					t.Errorf("create %d on %s: %v %v", i, rs[i%2].name, res, err)
					return
				}
				ids[i] = res.JSON201.Id.String()
				// A client retrying through the other replica gets the
				// same book, not a second one.
				retry, err := clients[(i+1)%2].CreateBookWithResponse(ctx, &oapi.CreateBookParams{IdempotencyKey: &key}, body, bearer(token))
				if err != nil || retry.StatusCode() >= 300 || !strings.Contains(string(retry.Body), ids[i]) {
					t.Errorf("retried create %d on the other replica: %v %v", i, retry, err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		stored := map[string]string{} // id -> title
		var cursor *string
		for page := 0; page == 0 || cursor != nil; page++ {
			limit, author := 100, "Replica Test"
			res, err := clients[page%2].ListBooksWithResponse(ctx, &oapi.ListBooksParams{Author: &author, Limit: &limit, Cursor: cursor}, bearer(token))
			if err != nil || res.JSON200 == nil {
				t.Fatalf("list: %v %v", res, err)
			}
			for _, bk := range res.JSON200.Items {
				if _, dup := stored[bk.Id.String()]; dup {
					t.Errorf("book %s listed twice", bk.Id)
				}
				stored[bk.Id.String()] = bk.Title
			}
			cursor = nil
			if next, err := res.JSON200.NextCursor.Get(); err == nil {
				cursor = &next
			}
		}
		if len(stored) != 2*perReplica {
			t.Fatalf("%d books stored, want %d", len(stored), 2*perReplica)
		}
		for i, id := range ids {
			if want := fmt.Sprintf("Book %03d", i); stored[id] != want {
				t.Errorf("book %s is %q, want %q", id, stored[id], want)
			}
		}
	})

	t.Run("IfMatchHasExactlyOneWinner", func(t *testing.T) {
		token := login(t, a, "alice", goodPassword).AccessToken
		created, err := a.CreateBookWithResponse(ctx, nil, oapi.BookCreate{Title: "Draft", Author: "A", Publisher: "P", PriceCents: 1}, bearer(token))
		if err != nil || created.JSON201 == nil {
			t.Fatalf("create: %v %v", created, err)
		}
		id, etag := created.JSON201.Id, created.HTTPResponse.Header.Get("ETag")
		const perReplica = 10
		clients := []*oapi.ClientWithResponses{a, b}
		statuses := make([]int, 2*perReplica)
		var wg sync.WaitGroup
		for i := range 2 * perReplica {
			wg.Go(func() {
				title := fmt.Sprintf("Edit %02d", i)
				res, err := clients[i%2].UpdateBookWithApplicationMergePatchPlusJSONBodyWithResponse(ctx, id,
					&oapi.UpdateBookParams{IfMatch: &etag}, oapi.BookPatch{Title: &title}, bearer(token))
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = res.StatusCode()
			})
		}
		wg.Wait()
		winners := 0
		winner := ""
		for i, s := range statuses {
			switch s {
			case 200:
				winners++
				winner = fmt.Sprintf("Edit %02d", i)
			case 412:
			default:
				t.Errorf("update %d: status %d, want 200 or 412", i, s)
			}
		}
		if winners != 1 {
			t.Fatalf("%d updates won, want exactly 1 (statuses %v)", winners, statuses)
		}
		for name, c := range map[string]*oapi.ClientWithResponses{"A": a, "B": b} {
			got, err := c.GetBookWithResponse(ctx, id, bearer(token))
			if err != nil || got.JSON200 == nil || got.JSON200.Title != winner || got.HTTPResponse.Header.Get("ETag") == etag {
				t.Errorf("the book on %s after the race: %v %v; want %q with a new ETag", name, got, err, winner)
			}
		}
	})
}

// TestPostgresReplicasStartTogether starts three replicas at the same
// moment on an empty database: each migration is applied exactly once,
// every replica serves, and they agree on the signing keys.
func TestPostgresReplicasStartTogether(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.Schema(t)
	rs := startReplicas(t, dbURL, 3)

	files, err := fs.Glob(schema.PostgresMigrations, "postgres/migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), "SELECT version_id FROM goose_db_version WHERE version_id > 0 ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(files) {
		t.Fatalf("applied versions %v for %d migration files; want each once", applied, len(files))
	}
	// Versions are the files' numbers, in order; they may have gaps (each
	// branch of work takes its own number).
	for i, v := range applied {
		var want int64
		fmt.Sscanf(files[i][strings.LastIndex(files[i], "/")+1:], "%d", &want)
		if v != want {
			t.Fatalf("applied versions %v, want those of %v once each", applied, files)
		}
	}

	ctx := t.Context()
	if res, err := rs[0].client.RegisterUserWithResponse(ctx, oapi.RegisterRequest{Username: "alice", Password: goodPassword}); err != nil || res.StatusCode() != 201 {
		t.Fatalf("register: %v %v", res, err)
	}
	for _, signer := range rs {
		tokens := login(t, signer.client, "alice", goodPassword)
		for _, verifier := range rs {
			res, err := verifier.client.GetCurrentUserWithResponse(ctx, bearer(tokens.AccessToken))
			if err != nil || res.StatusCode() != 200 {
				t.Errorf("a token from %s on %s: %v %v", signer.name, verifier.name, res.StatusCode(), err)
			}
		}
	}
}
