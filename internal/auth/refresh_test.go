package auth_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

func TestNewRefreshToken(t *testing.T) {
	token, hash, err := auth.NewRefreshToken()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, "bsr_") || len(token) != 4+43 {
		t.Errorf("token %q: want bsr_ and 43 base64url characters", token)
	}
	if strings.ContainsAny(token[4:], "+/=") {
		t.Errorf("token %q is not unpadded base64url", token)
	}
	if want := sha256.Sum256([]byte(token)); !bytes.Equal(hash, want[:]) {
		t.Errorf("hash is not SHA-256 of the token")
	}
	again, err := auth.HashRefreshToken(token)
	if err != nil || !bytes.Equal(again, hash) {
		t.Errorf("HashRefreshToken = %x, %v; want %x", again, err, hash)
	}
	other, _, _ := auth.NewRefreshToken()
	if other == token {
		t.Error("two refresh tokens are equal")
	}
}

func TestHashRefreshTokenRejects(t *testing.T) {
	valid, _, _ := auth.NewRefreshToken()
	for name, token := range map[string]string{
		"empty":        "",
		"prefix only":  "bsr_",
		"wrong prefix": "bsx_" + valid[4:],
		"no prefix":    valid[4:] + "xxxx",
		"one short":    valid[:len(valid)-1],
		"one long":     valid + "A",
		"access token": "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo",
		"one megabyte": "bsr_" + strings.Repeat("A", 1<<20),
	} {
		hash, err := auth.HashRefreshToken(token)
		if hash != nil || !errors.Is(err, bookstore.ErrUnauthorized) {
			t.Errorf("%s: HashRefreshToken = %x, %v; want ErrUnauthorized", name, hash, err)
		}
	}
}
