package auth

import (
	"bufio"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
	"golang.org/x/text/unicode/norm"

	"github.com/bookstore/bookstore/internal/bookstore"
)

// Password length limits, in Unicode code points. NIST SP 800-63B-4 asks for
// at least 15 characters when the password is the only factor, at least 8
// in any case, and at least 64 allowed.
const (
	DefaultMinPasswordLength = 15
	MinPasswordLength        = 8
	MaxPasswordLength        = 128
)

// zxcvbnMaxRunes caps how much of a password zxcvbn looks at. Its cost
// grows faster than the square of the length; measured here, 0.4 ms for 32
// characters, 2 to 3.5 ms for 64 and 12 to 22 ms for 128. Sixty-four
// characters hold any realistic passphrase whole, and a password whose
// first 64 characters are hard to guess stays hard to guess.
const zxcvbnMaxRunes = 64

// minZxcvbnScore is zxcvbn's "safely unguessable" level: about 10^8 guesses,
// out of reach of online attacks that the API throttles.
const minZxcvbnScore = 3

// PasswordPolicy decides which new passwords are acceptable. The zero value
// is usable and enforces MinPasswordLength.
type PasswordPolicy struct {
	MinLength int // in code points; below MinPasswordLength counts as MinPasswordLength
}

// NewPasswordPolicy returns a policy requiring minLength code points. It is
// an error (a configuration mistake) to ask for fewer than MinPasswordLength
// or more than MaxPasswordLength.
func NewPasswordPolicy(minLength int) (PasswordPolicy, error) {
	if minLength < MinPasswordLength || minLength > MaxPasswordLength {
		return PasswordPolicy{}, fmt.Errorf("minimum password length %d out of range [%d, %d]",
			minLength, MinPasswordLength, MaxPasswordLength)
	}
	return PasswordPolicy{MinLength: minLength}, nil
}

// minDistinctCharacters is how many different visible characters a
// password needs: fifteen of one emoji, or "ab" repeated, are long but
// guessed at once.
const minDistinctCharacters = 5

// Check returns nil when password may be set for username, else a
// *bookstore.Error of kind ErrInvalid on field "password" whose message says
// what is wrong. Any printable Unicode is allowed, spaces included; the
// password is checked as NormalizePassword makes it, which is also what is
// hashed, so lengths are code points of the normalised form (NIST SP
// 800-63B-4 §3.1.1.2). The checks run cheapest first.
func (p PasswordPolicy) Check(username, password string) error {
	// A code point takes at most 4 bytes (and NFKC expands a string at
	// most 18-fold): a megabyte is refused unread.
	if len(password) > 4*MaxPasswordLength {
		return invalidPassword(fmt.Sprintf("password must be at most %d characters", MaxPasswordLength))
	}
	if !utf8.ValidString(password) {
		return invalidPassword("password must be valid UTF-8 text")
	}
	password = NormalizePassword(password)
	n := 0
	visible := make(map[rune]struct{}, MaxPasswordLength)
	for _, r := range password {
		if unicode.IsControl(r) {
			return invalidPassword("password must not contain control characters")
		}
		if n++; n > MaxPasswordLength {
			return invalidPassword(fmt.Sprintf("password must be at most %d characters", MaxPasswordLength))
		}
		if isVisibleBase(r) {
			visible[r] = struct{}{}
		}
	}
	if n < p.minimumLength() {
		return invalidPassword(p.lengthMessage())
	}
	switch {
	case len(visible) == 0:
		return invalidPassword("password must not be made only of spaces or invisible characters")
	case len(visible) < minDistinctCharacters:
		return invalidPassword(fmt.Sprintf("password must use at least %d different characters, not one repeated", minDistinctCharacters))
	}
	lower := strings.ToLower(password)
	if u := strings.ToLower(username); u != "" {
		// A username of one or two letters appears inside many good
		// passphrases by chance; only longer ones are worth refusing.
		if lower == u || (utf8.RuneCountInString(u) >= 3 && strings.Contains(lower, u)) {
			return invalidPassword("password must not contain the username")
		}
	}
	// Also without spaces: "pass word pass word" is "passwordpassword".
	if isCommonPassword(lower) || isCommonPassword(strings.ReplaceAll(lower, " ", "")) {
		return invalidPassword("password is too common")
	}
	if res := zxcvbn.PasswordStrength(firstRunes(password, zxcvbnMaxRunes), []string{username, "bookstore"}); res.Score < minZxcvbnScore {
		msg := "password is too easy to guess"
		if hint := zxcvbnHint(res.Sequence); hint != "" {
			msg += ": " + hint
		}
		return invalidPassword(msg)
	}
	return nil
}

// minimumLength is the fewest code points a new password may have.
func (p PasswordPolicy) minimumLength() int { return max(p.MinLength, MinPasswordLength) }

// lengthMessage is the one message for a password that is too short,
// whichever check finds it (this policy, or the request validator).
func (p PasswordPolicy) lengthMessage() string {
	return fmt.Sprintf("password must be at least %d characters", p.minimumLength())
}

// NormalizePassword is the form of a password that is checked and hashed:
// NFKC, so the same password typed on another keyboard or system (composed
// or decomposed accents, full-width letters, a no-break space) is the same
// password.
func NormalizePassword(password string) string { return norm.NFKC.String(password) }

// isVisibleBase reports whether r is a character a reader sees by itself:
// not white space, not a format or default-ignorable code point (zero-width
// space, joiners, variation selectors, the Hangul filler), not a combining
// mark or an emoji skin-tone modifier that only changes the character
// before it.
func isVisibleBase(r rune) bool {
	switch {
	case unicode.IsSpace(r), unicode.Is(unicode.Zs, r),
		unicode.Is(unicode.Cf, r),
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r),
		unicode.Is(unicode.Variation_Selector, r),
		unicode.Is(unicode.Mn, r), unicode.Is(unicode.Me, r),
		r >= 0x1F3FB && r <= 0x1F3FF: // emoji modifiers (skin tones)
		return false
	}
	return unicode.IsGraphic(r)
}

func invalidPassword(msg string) error {
	return bookstore.Invalid(msg, bookstore.FieldError{Field: "password", Message: msg})
}

// firstRunes returns the prefix of s holding at most n code points.
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// zxcvbnHint explains the longest weak pattern zxcvbn found, as upstream
// zxcvbn's feedback does (the Go port has no feedback of its own).
func zxcvbnHint(seq []*match.Match) string {
	var longest *match.Match
	for _, m := range seq {
		if m.Pattern != "bruteforce" && (longest == nil || len(m.Token) > len(longest.Token)) {
			longest = m
		}
	}
	if longest == nil {
		return "add another word or two; uncommon words are better"
	}
	switch longest.Pattern {
	case "dictionary":
		switch {
		case longest.DictionaryName == "user_inputs":
			return "avoid your username and the name of this site"
		case longest.DictionaryName == "passwords":
			return "avoid common passwords"
		case longest.L33t:
			return "predictable substitutions like '@' for 'a' do not help much"
		case longest.Reversed:
			return "reversed words are not much harder to guess"
		case strings.HasSuffix(longest.DictionaryName, "names"):
			return "names and surnames are easy to guess"
		default:
			return "common words are easy to guess; add more, uncommon words"
		}
	case "spatial":
		return "keyboard patterns are easy to guess"
	case "repeat":
		return `repeats like "aaa" or "abcabc" are easy to guess`
	case "sequence":
		return "sequences like abc or 6543 are easy to guess"
	case "regex", "date":
		return "dates and years are easy to guess"
	}
	return "add another word or two; uncommon words are better"
}

func isCommonPassword(lower string) bool {
	_, ok := commonPasswords()[lower]
	return ok
}

//go:embed common-passwords.txt
var commonPasswordsFile string

// commonPasswords is the embedded blocklist as a set of lowercase entries,
// built on first use so programs that never check a password do not pay
// for it.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 8192)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	return set
})
