package auth_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bookstore/bookstore/internal/auth"
)

// Issue and verify of HS256 and verify of EdDSA are in tokens_test.go; this
// adds the EdDSA issue, and both verifies under parallel load (as the
// server runs them: one per request, on every core).

func BenchmarkIssueEdDSA(b *testing.B) {
	at := MustAccessTokens(b, MustKeyring(b, MustKey(b, auth.AlgEdDSA)))
	u, s := uuid.New(), uuid.New()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := at.Issue(u, s, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkVerifyParallel(b *testing.B, alg string) {
	at := MustAccessTokens(b, MustKeyring(b, MustKey(b, alg)))
	token, _, err := at.Issue(uuid.New(), uuid.New(), time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := at.Verify(token); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerifyHS256Parallel(b *testing.B) { benchmarkVerifyParallel(b, auth.AlgHS256) }
func BenchmarkVerifyEdDSAParallel(b *testing.B) { benchmarkVerifyParallel(b, auth.AlgEdDSA) }
