package auth_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/trustelem/zxcvbn"

	"github.com/bookstore/bookstore/internal/auth"
	"github.com/bookstore/bookstore/internal/bookstore"
)

func TestNewPasswordPolicy(t *testing.T) {
	for _, n := range []int{-1, 0, 7, 129} {
		if _, err := auth.NewPasswordPolicy(n); err == nil {
			t.Errorf("NewPasswordPolicy(%d) succeeded", n)
		}
	}
	for _, n := range []int{8, 15, 128} {
		if p, err := auth.NewPasswordPolicy(n); err != nil || p.MinLength != n {
			t.Errorf("NewPasswordPolicy(%d) = %+v, %v", n, p, err)
		}
	}
}

func TestPasswordPolicyCheck(t *testing.T) {
	policy, err := auth.NewPasswordPolicy(auth.DefaultMinPasswordLength)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, username, password string
		want                     string // a substring of the message; "" means accepted
	}{
		{name: "strong passphrase", password: "plum tractor glacier umbrella"},
		{name: "strong with symbols", password: "Quiet-Otter-Mosaic-42"},
		{name: "unicode passphrase", password: "ŝtupo ĉe la rivero kaj monto"},
		{name: "emoji and CJK", password: "🚲 自転車で 湖 へ 行こう 🌊 zephyr"},
		{name: "exactly 15", password: "vexing-quark-71"},
		{name: "exactly 128", password: strings.Repeat("Gentle harbour lights flicker; ", 5)[:128]},

		{name: "14 characters", password: "vexing-quark-7", want: "password must be at least 15 characters"},
		{name: "short in code points, long in bytes", password: "ĉĉĉĉĉĉĉĉĉĉ", want: "at least 15 characters"},
		{name: "empty", password: "", want: "at least 15 characters"},
		{name: "129 characters", password: strings.Repeat("x", 129), want: "password must be at most 128 characters"},
		{name: "one megabyte", password: strings.Repeat("x", 1<<20), want: "at most 128 characters"},
		{name: "NUL", password: "plum tractor\x00glacier umbrella", want: "control characters"},
		{name: "newline", password: "plum tractor\nglacier umbrella", want: "control characters"},
		{name: "DEL", password: "plum tractor\x7fglacier umbrella", want: "control characters"},
		{name: "C1 control", password: "plum tractor\u0085glacier umbrella", want: "control characters"},
		{name: "invalid UTF-8", password: "plum tractor \xff glacier umbrella", want: "valid UTF-8"},

		{name: "equal to username", username: "plumtractorglacier", password: "plumtractorglacier", want: "must not contain the username"},
		{name: "contains username", username: "alice", password: "alice plum tractor glacier", want: "must not contain the username"},
		{name: "contains username, other case", username: "Alice", password: "plum ALICE tractor glacier", want: "must not contain the username"},
		{name: "two-letter username inside", username: "al", password: "plum tractor glacier umbrella", want: ""},

		{name: "blocklisted passwordpassword", password: "passwordpassword", want: "password is too common"},
		{name: "blocklisted digits", password: "123456789012345", want: "too common"},
		{name: "blocklisted keyboard walk", password: "qwertyuiopasdfghjkl", want: "too common"},
		{name: "blocklisted iloveyouiloveyou", password: "iloveyouiloveyou", want: "too common"},
		{name: "blocklisted, other case", password: "PassWordPassWord", want: "too common"},
		{name: "blocklisted, with spaces", password: "correct horse battery staple", want: "too common"},
		{name: "blocklisted from the breach list", password: "1qaz2wsx3edc4rfv", want: "too common"},

		{name: "one letter repeated", password: "aaaaaaaaaaaaaaaa", want: "at least 5 different characters"},
		{name: "zxcvbn: repeated pattern", password: "abcdeabcdeabcdeab", want: "too easy to guess"},
		{name: "zxcvbn: alphabet", password: "abcdefghijklmnopqrs", want: "too easy to guess: sequences"},
		{name: "zxcvbn: reversed word twice", password: "drowssapdrowssap", want: "too easy to guess"},
		{name: "zxcvbn: season and year twice", password: "Summer2024Summer2024", want: "too easy to guess"},
		// Unicode (NIST SP 800-63B-4): checked as NFKC, lengths in code points
		// of that form, nothing made only of what nobody can see.
		{name: "zero-width spaces", password: strings.Repeat("\u200b", 15), want: "only of spaces or invisible characters"},
		{name: "no-break spaces", password: strings.Repeat("\u00a0", 15), want: "only of spaces or invisible"},
		{name: "ideographic spaces", password: strings.Repeat("\u3000", 15), want: "only of spaces or invisible"},
		{name: "Hangul fillers and joiners", password: strings.Repeat("\u3164\u200d\ufe0f", 6), want: "only of spaces or invisible"},
		{name: "one emoji repeated", password: strings.Repeat("🦊", 15), want: "at least 5 different characters"},
		{name: "one emoji with a skin tone repeated", password: strings.Repeat("👍🏽", 8), want: "at least 5 different characters"},
		{name: "two letters between zero-width spaces", password: strings.Repeat("a\u200bb\u200b", 8), want: "at least 5 different characters"},
		{name: "full-width blocklisted", password: "ｐａｓｓｗｏｒｄｐａｓｓｗｏｒｄ", want: "too common"},
		{name: "short once composed", password: "vexing-quarke\u0301", want: "at least 15 characters"},
		{name: "long once the ligature is expanded", password: "\ufb01g-quark-vex71"},
		{name: "zxcvbn: word and digits", password: "1234567890abcdefgh", want: "too easy to guess"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy.Check(tt.username, tt.password)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check(%q, %q) = %v; want nil", tt.username, tt.password, err)
				}
				return
			}
			var be *bookstore.Error
			if !errors.As(err, &be) || !errors.Is(err, bookstore.ErrInvalid) {
				t.Fatalf("Check = %v; want a *bookstore.Error of kind ErrInvalid", err)
			}
			if !strings.Contains(be.Message, tt.want) {
				t.Errorf("message %q does not contain %q", be.Message, tt.want)
			}
			if len(be.Fields) != 1 || be.Fields[0].Field != "password" || be.Fields[0].Message != be.Message {
				t.Errorf("fields = %+v; want one field \"password\" with the message", be.Fields)
			}
		})
	}
}

// A policy built without NewPasswordPolicy still never allows fewer than 8
// characters. (Eight random characters then meet zxcvbn, which wants more.)
func TestPasswordPolicyMinimumIsEight(t *testing.T) {
	for _, p := range []auth.PasswordPolicy{{}, {MinLength: 3}, {MinLength: 8}} {
		if err := p.Check("", "Zq7#vB!"); err == nil || !strings.Contains(err.Error(), "at least 8 characters") {
			t.Errorf("%+v.Check(7 characters) = %v; want at least 8 characters", p, err)
		}
		if err := p.Check("", "Zq7#vB!m"); err != nil && strings.Contains(err.Error(), "at least") {
			t.Errorf("%+v.Check(8 characters) = %v; want no length error", p, err)
		}
		if err := p.Check("", "Zq7#vB!m2pX"); err != nil {
			t.Errorf("%+v.Check(11 random characters) = %v; want nil", p, err)
		}
	}
}

// BenchmarkPasswordPolicyCheck128 is the worst case Check faces: a 128
// character password that passes every check, so zxcvbn runs.
func BenchmarkPasswordPolicyCheck128(b *testing.B) {
	p, _ := auth.NewPasswordPolicy(auth.DefaultMinPasswordLength)
	pw := strings.Repeat("Gentle harbour lights flicker; ", 5)[:128]
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Check("alice", pw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkZxcvbn shows why Check gives zxcvbn at most 64 code points.
func BenchmarkZxcvbn(b *testing.B) {
	pw := strings.Repeat("ab1", 43)[:128] // among the slowest inputs found
	for _, n := range []int{32, 64, 128} {
		b.Run("runes="+strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				zxcvbn.PasswordStrength(pw[:n], []string{"alice", "bookstore"})
			}
		})
	}
}
