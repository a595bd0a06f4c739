package seedimport_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
	"github.com/bookstore/bookstore/internal/seedimport"
	"github.com/bookstore/bookstore/internal/sqlite"
)

// SeedPassword is every fixture user's password. The hashes were computed
// with Python's hashlib and hmac exactly as werkzeug.security does (see
// internal/auth/werkzeug_test.go), in every format werkzeug has written.
const SeedPassword = "tangerine walrus under glass"

// seedUsers are rows of the tutorial's users table: id, public_id, name,
// password, admin (nil: NULL).
var seedUsers = [][]any{
	{1, "0b1f0d0e-8f8a-4c43-9f5e-2f7d0a1b2c3d", "alice", "sha256$Xq3vB9aZ$6f140a1e3bd80796b370078f33a9aa9ae7e9da31c01e26cead31b4be578bca97", 0},
	{2, "2c5e7a10-1b2c-4d3e-8f90-a1b2c3d4e5f6", "bob", "pbkdf2:sha256:1000$OnmBW4Y8cUHfrDg2$ef214c7b3a990387a5329752445f6ea7ce41eb3a7e6d3b177620860a7190d607", 0},
	{3, "3d6f8b21-2c3d-4e4f-9a01-b2c3d4e5f607", "carol", "scrypt:16:8:1$TvqUilznpmYjn49g$8a8470caf79474b279c731a2144b0f8d15d2629d8cf43a95c489cf8cf2e507f5c2826a889c16bdd5eef976dce43397c5063f09e4072b6f30e24cc26a86400ec7", 0},
	{4, "4e7a9c32-3d4e-4f50-8b12-c3d4e5f60718", "root", "sha512$k2LmN8pQ$f104944b607bc8a4e38ff891328f1971a410b5a5eb2655b728e4a2f63647ae8368a204a35be9374b6192daa8155dedb9b9996a2c4b40a522a9450b49a766ed8a", 1},
	{5, "5f8bad43-4e5f-4061-9c23-d4e5f6071829", "dave", "pbkdf2:sha1:1000$abcdEFGH$6f4cbcfe416eed9c446f926d838c7523e42c7ce1", nil},
	// Skipped, each for its reason:
	{6, "6a9cbe54-5f60-4172-8d34-e5f60718293a", "Alice", "md5$k2LmN8pQ$085313c77ed8d64d8ca65e82d9727f96", 0},
	{7, "7badcf65-6071-4283-9e45-f60718293a4b", "ed", "sha1$Xq3vB9aZ$836da571c0efb55d14e0691a772e5b017bcfbaa5", 0},
	{8, "8cbed076-7182-4394-8f56-0718293a4b5c", "frank sinatra", "sha1$Xq3vB9aZ$836da571c0efb55d14e0691a772e5b017bcfbaa5", 0},
	{9, "9dcfe187-8293-44a5-9067-18293a4b5c6d", "gina", "plain$$" + SeedPassword, 0},
	{10, nil, "henry", nil, 0},
	{11, nil, nil, "sha1$Xq3vB9aZ$836da571c0efb55d14e0691a772e5b017bcfbaa5", 0},
	{12, "c0ffee00-0000-4000-8000-000000000012", "ivan", "sha1$Xq3vB9aZ$836da571c0efb55d14e0691a772e5b017bcfbaa5", 0},
	// Well formed but over the cost caps (2.6 s per login before them).
	{13, "d1e2f3a4-0000-4000-8000-000000000013", "heavy", "pbkdf2:sha512:5000000$salt$" + strings.Repeat("ab", 64), 0},
	{14, "d1e2f3a4-0000-4000-8000-000000000014", "heavier", "scrypt:131072:16:16$salt$" + strings.Repeat("ab", 64), 0},
}

// seedBooks: id, user_id, name, Author, Publisher, book_prize (the
// tutorial makes name and Author unique).
var seedBooks = [][]any{
	{1, 1, "The Hobbit", "J. R. R. Tolkien", "George Allen & Unwin", 13},
	{2, 1, "Dune", "Frank Herbert", "Chilton", 20},
	{3, 2, "A Wizard of Earthsea", "Ursula K. Le Guin", "Parnassus", 9.5},
	{4, 4, "Neuromancer", "William Gibson", "Ace", 0},
	// Skipped:
	{5, 1, "Untitled", "Nobody", "Nobody Press", nil},
	{6, 1, "Blank", "Someone", "  ", 10},
	{7, 6, "Emma", "Jane Austen", "John Murray", 5},
	{8, 1, "Negative", "Anon", "Anon Press", -3},
	{9, 42, "Orphan", "Orphan Author", "Orphan Press", 5},
	{10, 2, "Fraction", "Fraction Author", "Fraction Press", 1.234},
}

// MustWriteSeed writes a bookstore.db in the tutorial's exact schema.
func MustWriteSeed(tb testing.TB, users, books [][]any) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "bookstore.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(seedimport.TutorialSchema); err != nil {
		tb.Fatal(err)
	}
	for _, u := range users {
		if _, err := db.Exec(`INSERT INTO users (id, public_id, name, password, admin) VALUES (?, ?, ?, ?, ?)`, u...); err != nil {
			tb.Fatal(err)
		}
	}
	for _, b := range books {
		if _, err := db.Exec(`INSERT INTO books (id, user_id, name, "Author", "Publisher", book_prize) VALUES (?, ?, ?, ?, ?, ?)`, b...); err != nil {
			tb.Fatal(err)
		}
	}
	return path
}

func MustOpenStore(tb testing.TB) *sqlite.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "target.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	seed := MustWriteSeed(t, seedUsers, seedBooks)
	store := MustOpenStore(t)
	// A user already here takes one seed user's name.
	if err := store.CreateUser(ctx, bookstore.User{ID: mustUUID(t), Username: "Ivan", PasswordHash: "$argon2id$x"}); err != nil {
		t.Fatal(err)
	}

	r, err := seedimport.Import(ctx, seed, store, seedimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.UsersImported != 5 || r.AdminsImported != 0 || r.AdminsDemoted != 1 || r.UsersAlready != 0 {
		t.Errorf("users: %+v", r)
	}
	wantUserSkips := map[int64]string{
		12: "taken here by Ivan",
		6:  `clashes with user #1 "alice"`,
		7:  "3 to 50 characters",
		8:  "may contain only",
		9:  "cannot be verified",
		10: "no password hash",
		11: "no name",
		13: "over the caps: pbkdf2:sha512 at 5000000 iterations, at most 350000",
		14: "over the caps: scrypt p=16, at most 4",
	}
	checkSkips(t, r.Skips("users"), wantUserSkips)
	wantBookSkips := map[int64]string{
		5:  "book_prize is missing",
		6:  "Publisher is missing",
		7:  "owner, user #6, was skipped",
		8:  "negative",
		9:  "user #42, does not exist",
		10: "not a whole number of cents",
	}
	if r.BooksImported != 4 {
		t.Errorf("books imported: %d, want 4", r.BooksImported)
	}
	checkSkips(t, r.Skips("books"), wantBookSkips)

	// What came in.
	alice, err := store.FindUserByUsername(ctx, "alice")
	if err != nil || alice.Admin || alice.PasswordHash != seedUsers[0][3] || !alice.PasswordChangeRequired {
		t.Fatalf("alice: %+v %v", alice, err)
	}
	// Without Options.Admins, the seed's admin is a regular user here.
	if root, err := store.FindUserByUsername(ctx, "root"); err != nil || root.Admin {
		t.Errorf("root was imported as an admin without Options.Admins: %+v %v", root, err)
	}
	books, err := store.ListBooks(ctx, bookstore.BookFilter{OwnerID: &alice.ID, Sort: bookstore.SortTitle, Limit: 10})
	if err != nil || len(books) != 2 {
		t.Fatalf("alice's books: %v %v", books, err)
	}
	if b := books[1]; b.Title != "The Hobbit" || b.Author != "J. R. R. Tolkien" || b.Publisher != "George Allen & Unwin" || b.PriceCents != 1300 || b.ISBN != nil {
		t.Errorf("The Hobbit: %+v", b)
	}
	bob, _ := store.FindUserByUsername(ctx, "bob")
	if books, _ := store.ListBooks(ctx, bookstore.BookFilter{OwnerID: &bob.ID, Limit: 10}); len(books) != 1 || books[0].PriceCents != 950 {
		t.Errorf("bob's books (9.5 → 950 cents): %+v", books)
	}

	// A second run imports nothing twice.
	again, err := seedimport.Import(ctx, seed, store, seedimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.UsersImported != 0 || again.BooksImported != 0 || again.UsersAlready != 5 || again.BooksAlready != 4 {
		t.Errorf("second run: %+v", again)
	}
	if len(again.Skipped) != len(r.Skipped) {
		t.Errorf("second run skipped %d, first %d", len(again.Skipped), len(r.Skipped))
	}

	// Every imported user logs in with their old password, once rehashed.
	h, err := auth.NewHasher(auth.Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob", "carol", "root", "dave"} {
		u, err := h.CheckPassword(ctx, store, name, SeedPassword)
		if err != nil {
			t.Errorf("%s cannot log in: %v", name, err)
			continue
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("%s not rehashed: %s", name, u.PasswordHash)
		}
	}
}

// TestImportRespectsDeletions: an account deleted here after an import is
// not brought back by the next run, with its old hash or anything else,
// and its books are not imported again either.
func TestImportRespectsDeletions(t *testing.T) {
	ctx := context.Background()
	seed := MustWriteSeed(t, seedUsers[:2], seedBooks[:3])
	store := MustOpenStore(t)
	if r, err := seedimport.Import(ctx, seed, store, seedimport.Options{}); err != nil || r.UsersImported != 2 || r.BooksImported != 3 {
		t.Fatalf("first run: %+v %v", r, err)
	}
	alice, err := store.FindUserByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteUser(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	for run := range 2 {
		r, err := seedimport.Import(ctx, seed, store, seedimport.Options{Admins: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.UsersImported != 0 || r.UsersDeletedHere != 1 || r.UsersAlready != 1 || r.BooksImported != 0 {
			t.Errorf("run %d after the deletion: %+v", run+2, r)
		}
		checkSkips(t, r.Skips("users"), map[int64]string{1: "deleted here since: not brought back"})
		if _, err := store.FindUserByUsername(ctx, "alice"); err == nil {
			t.Fatalf("run %d brought the deleted account back", run+2)
		}
	}
	// Someone registering the name here afterwards is a different account,
	// and no later import touches it.
	if err := store.CreateUser(ctx, bookstore.User{ID: mustUUID(t), Username: "alice", PasswordHash: "$argon2id$x"}); err != nil {
		t.Fatal(err)
	}
	if r, err := seedimport.Import(ctx, seed, store, seedimport.Options{}); err != nil || r.UsersDeletedHere != 1 || r.UsersImported != 0 {
		t.Errorf("run with the name taken again: %+v %v", r, err)
	}
}

// TestImportAdminsOnlyWithFlag: the seed's admin is an admin here only
// with Options.Admins.
func TestImportAdminsOnlyWithFlag(t *testing.T) {
	ctx := context.Background()
	seed := MustWriteSeed(t, seedUsers[3:4], nil) // root, an admin in the seed
	for _, admins := range []bool{false, true} {
		store := MustOpenStore(t)
		r, err := seedimport.Import(ctx, seed, store, seedimport.Options{Admins: admins})
		if err != nil {
			t.Fatal(err)
		}
		root, err := store.FindUserByUsername(ctx, "root")
		if err != nil || root.Admin != admins || !root.PasswordChangeRequired {
			t.Errorf("Admins=%v: root %+v %v", admins, root, err)
		}
		if admins && (r.AdminsImported != 1 || r.AdminsDemoted != 0) || !admins && (r.AdminsImported != 0 || r.AdminsDemoted != 1) {
			t.Errorf("Admins=%v: report %+v", admins, r)
		}
	}
}

func TestImportPrizeInCents(t *testing.T) {
	ctx := context.Background()
	seed := MustWriteSeed(t, seedUsers[:1], seedBooks[:1])
	store := MustOpenStore(t)
	if _, err := seedimport.Import(ctx, seed, store, seedimport.Options{PrizeUnit: seedimport.Cents}); err != nil {
		t.Fatal(err)
	}
	u, _ := store.FindUserByUsername(ctx, "alice")
	if books, _ := store.ListBooks(ctx, bookstore.BookFilter{OwnerID: &u.ID, Limit: 10}); len(books) != 1 || books[0].PriceCents != 13 {
		t.Errorf("books: %+v", books)
	}
}

func TestImportRefusesOtherFiles(t *testing.T) {
	ctx := context.Background()
	store := MustOpenStore(t)
	if _, err := seedimport.Import(ctx, filepath.Join(t.TempDir(), "missing.db"), store, seedimport.Options{}); err == nil {
		t.Error("a missing file was imported")
	}
	path := filepath.Join(t.TempDir(), "other.db")
	db, _ := sql.Open("sqlite", path)
	db.Exec(`CREATE TABLE users (id INTEGER, username TEXT)`)
	db.Close()
	if _, err := seedimport.Import(ctx, path, store, seedimport.Options{}); err == nil || !strings.Contains(err.Error(), "not the Flask tutorial's") {
		t.Errorf("another schema: %v", err)
	}
}

func checkSkips(t *testing.T, got []seedimport.Skip, want map[int64]string) {
	t.Helper()
	seen := map[int64]bool{}
	for _, s := range got {
		seen[s.ID] = true
		w, ok := want[s.ID]
		if !ok {
			t.Errorf("unexpected skip: %s", s)
		} else if !strings.Contains(s.Reason, w) {
			t.Errorf("skip %s: want the reason to say %q", s, w)
		}
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("#%d was not skipped", id)
		}
	}
}

func mustUUID(t *testing.T) uuid.UUID {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id
}
