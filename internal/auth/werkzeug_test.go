package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

// werkzeugPassword is the password of every vector below. The vectors were
// computed with Python's hashlib and hmac exactly as werkzeug.security's
// _hash_internal does (werkzeug itself need not be installed):
//
//	hmac.new(salt.encode(), pw.encode(), "sha256").hexdigest()              # sha256$salt$…
//	hashlib.pbkdf2_hmac("sha256", pw.encode(), salt.encode(), 600000).hex()  # pbkdf2:sha256:600000$salt$…
//	hashlib.scrypt(pw.encode(), salt=salt.encode(), n=32768, r=8, p=1).hex() # scrypt:32768:8:1$salt$…
const werkzeugPassword = "tangerine walrus under glass"

var werkzeugVectors = []struct {
	name, hash string
}{
	// werkzeug < 2.3, generate_password_hash(pw, method="sha256"): the Flask tutorial's users.
	{"hmac sha256", "sha256$Xq3vB9aZ$6f140a1e3bd80796b370078f33a9aa9ae7e9da31c01e26cead31b4be578bca97"},
	{"hmac sha1", "sha1$Xq3vB9aZ$836da571c0efb55d14e0691a772e5b017bcfbaa5"},
	{"hmac sha512", "sha512$k2LmN8pQ$f104944b607bc8a4e38ff891328f1971a410b5a5eb2655b728e4a2f63647ae8368a204a35be9374b6192daa8155dedb9b9996a2c4b40a522a9450b49a766ed8a"},
	{"hmac md5", "md5$k2LmN8pQ$085313c77ed8d64d8ca65e82d9727f96"},
	// werkzeug 2.3 and 3.0's default method.
	{"pbkdf2 sha256 600000", "pbkdf2:sha256:600000$OnmBW4Y8cUHfrDg2$7bea067fe06d439c7c802a0f37dba1bcc9b9b3e7110359ec73699727d910a01d"},
	{"pbkdf2 sha256 1000", "pbkdf2:sha256:1000$OnmBW4Y8cUHfrDg2$ef214c7b3a990387a5329752445f6ea7ce41eb3a7e6d3b177620860a7190d607"},
	// werkzeug 0.x's default method was pbkdf2:sha1.
	{"pbkdf2 sha1", "pbkdf2:sha1:1000$abcdEFGH$6f4cbcfe416eed9c446f926d838c7523e42c7ce1"},
	{"pbkdf2 sha512", "pbkdf2:sha512:2000$abcdEFGH$8d13663ec520f157101531c1180b104aaf3e3f748e55ae9eeb63cefd69711acd81c4860b089e60cf2f6e7b31ff37e124e66e52b628f1716451b3c55229748440"},
	// werkzeug ≥ 3.0's default method.
	{"scrypt default", "scrypt:32768:8:1$TvqUilznpmYjn49g$a4d553b00216a7bdc4aa98bdbcf239fd15035581b243b267ed33bd7449a59d7583f2e00ac63d772974dd52945786d0c6d93835ce5a6611551a399bebe302a564"},
	{"scrypt small", "scrypt:16:8:1$TvqUilznpmYjn49g$8a8470caf79474b279c731a2144b0f8d15d2629d8cf43a95c489cf8cf2e507f5c2826a889c16bdd5eef976dce43397c5063f09e4072b6f30e24cc26a86400ec7"},
}

func TestVerifyWerkzeugVectors(t *testing.T) {
	ctx := context.Background()
	h := MustNewHasher(t, fastParams(), 2)
	for _, v := range werkzeugVectors {
		t.Run(v.name, func(t *testing.T) {
			if !auth.IsWerkzeugHash(v.hash) {
				t.Fatal("IsWerkzeugHash = false")
			}
			if err := auth.CheckWerkzeugHash(v.hash); err != nil {
				t.Fatalf("CheckWerkzeugHash: %v", err)
			}
			ok, rehash, err := h.Verify(ctx, v.hash, werkzeugPassword)
			if err != nil || !ok || !rehash {
				t.Fatalf("right password: ok=%v rehash=%v err=%v; want true, true, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(ctx, v.hash, werkzeugPassword+"!")
			if err != nil || ok || rehash {
				t.Fatalf("wrong password: ok=%v rehash=%v err=%v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

// The password is used as its UTF-8 bytes, as werkzeug's password.encode().
func TestVerifyWerkzeugUnicode(t *testing.T) {
	h := MustNewHasher(t, fastParams(), 1)
	// hmac.new(b"Xq3vB9aZ", "pässwörd ünïcode".encode(), "sha256").hexdigest()
	ok, _, err := h.Verify(context.Background(), "sha256$Xq3vB9aZ$c386387adb4715567c09f1d89197fe57175d62c4757ecd2e37f000d04aaf1ef4", "pässwörd ünïcode")
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
}

func TestWerkzeugMalformed(t *testing.T) {
	h := MustNewHasher(t, fastParams(), 1)
	hex64 := strings.Repeat("ab", 32)
	cases := map[string]string{
		"plain":                  "plain$$" + werkzeugPassword,
		"unsalted":               "sha256$$" + hex64,
		"one dollar":             "sha256$" + hex64,
		"unknown method":         "whirlpool$salt$" + hex64,
		"uppercase hex":          "sha256$salt$" + strings.ToUpper(hex64),
		"not hex":                "sha256$salt$" + strings.Repeat("zz", 32),
		"short digest":           "sha256$salt$abcd",
		"pbkdf2 no iterations":   "pbkdf2:sha256$salt$" + hex64,
		"pbkdf2 zero":            "pbkdf2:sha256:0$salt$" + hex64,
		"pbkdf2 huge":            "pbkdf2:sha256:999999999$salt$" + hex64,
		"pbkdf2 signed":          "pbkdf2:sha256:+1000$salt$" + hex64,
		"pbkdf2 unknown hash":    "pbkdf2:sha3:1000$salt$" + hex64,
		"pbkdf2 extra argument":  "pbkdf2:sha256:1000:1$salt$" + hex64,
		"scrypt no parameters":   "scrypt$salt$" + hex64 + hex64,
		"scrypt N not 2^k":       "scrypt:1000:8:1$salt$" + hex64 + hex64,
		"scrypt too much memory": "scrypt:1048576:8:1$salt$" + hex64 + hex64,
		"scrypt p too high":      "scrypt:16:8:100$salt$" + hex64 + hex64,
		"scrypt short digest":    "scrypt:16:8:1$salt$" + hex64,
		"too long":               "sha256$" + strings.Repeat("s", 600) + "$" + hex64,
	}
	for name, stored := range cases {
		t.Run(name, func(t *testing.T) {
			if err := auth.CheckWerkzeugHash(stored); err == nil {
				t.Fatal("CheckWerkzeugHash accepted it")
			}
			ok, _, err := h.Verify(context.Background(), stored, werkzeugPassword)
			if err == nil || ok {
				t.Fatalf("Verify: ok=%v err=%v; want an error", ok, err)
			}
		})
	}
	if auth.IsWerkzeugHash("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA") {
		t.Error("a PHC string is taken for a werkzeug hash")
	}
}

// A user imported with a werkzeug hash logs in with their old password, and
// the hash is replaced by argon2id on that first login.
func TestCheckPasswordRehashesWerkzeug(t *testing.T) {
	ctx := context.Background()
	db := MustOpenStore(t)
	h := MustNewHasher(t, fastParams(), 1)
	for i, v := range werkzeugVectors {
		u := bookstore.User{ID: uuid.New(), Username: "seed" + string(rune('a'+i)), PasswordHash: v.hash, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if _, err := h.CheckPassword(ctx, db, u.Username, "not it at all, sorry"); err == nil {
			t.Fatalf("%s: a wrong password was accepted", v.name)
		}
		got, err := h.CheckPassword(ctx, db, u.Username, werkzeugPassword)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		stored, err := db.FindUserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored.PasswordHash, "$argon2id$") || got.PasswordHash != stored.PasswordHash {
			t.Fatalf("%s: not rehashed: %q", v.name, stored.PasswordHash)
		}
		if _, err := h.CheckPassword(ctx, db, u.Username, werkzeugPassword); err != nil {
			t.Fatalf("%s: after the rehash: %v", v.name, err)
		}
	}
}
