package bookstore

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxTextLength is the longest title, author or publisher, in code points.
const MaxTextLength = 200

// CleanText trims s and checks it is 1–MaxTextLength code points of valid
// UTF-8 with no control characters. field names s in the error.
func CleanText(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s):
		return "", Invalid(field+" is not valid UTF-8", FieldError{field, "must be valid UTF-8"})
	case s == "":
		return "", Invalid(field+" must not be empty", FieldError{field, "must not be empty or only spaces"})
	case utf8.RuneCountInString(s) > MaxTextLength:
		return "", Invalid(field+" is too long", FieldError{field, "must be at most 200 characters"})
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", Invalid(field+" contains control characters", FieldError{field, "must not contain control characters"})
	}
	return s, nil
}

// NormalizeISBN accepts an ISBN-10 or ISBN-13, with hyphens or spaces
// between digits, checks its check digit and returns it as 13 digits.
func NormalizeISBN(s string) (string, error) {
	bad := func(msg string) error { return Invalid("isbn "+msg, FieldError{"isbn", msg}) }
	digits := make([]byte, 0, 13)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == 'X' || c == 'x':
			digits = append(digits, 'X')
		case c == '-' || c == ' ':
			continue
		default:
			return "", bad("must contain only digits, hyphens and spaces")
		}
		if len(digits) > 13 {
			return "", bad("must have 10 or 13 digits")
		}
	}
	switch len(digits) {
	case 10:
		sum := 0
		for i, c := range digits {
			v := int(c - '0')
			if c == 'X' {
				if i != 9 {
					return "", bad("may have X only as its check digit")
				}
				v = 10
			}
			sum += (10 - i) * v
		}
		if sum%11 != 0 {
			return "", bad("has a wrong check digit")
		}
		isbn13 := append([]byte("978"), digits[:9]...)
		return string(append(isbn13, isbn13CheckDigit(isbn13))), nil
	case 13:
		if strings.IndexByte(string(digits), 'X') >= 0 {
			return "", bad("may have X only in an ISBN-10")
		}
		if isbn13CheckDigit(digits[:12]) != digits[12] {
			return "", bad("has a wrong check digit")
		}
		return string(digits), nil
	default:
		return "", bad("must have 10 or 13 digits")
	}
}

func isbn13CheckDigit(first12 []byte) byte {
	sum := 0
	for i, c := range first12 {
		w := 1
		if i%2 == 1 {
			w = 3
		}
		sum += w * int(c-'0')
	}
	return byte('0' + (10-sum%10)%10)
}

// CheckUsername enforces the username rule: 3–50 of A-Z a-z 0-9 _ . -
func CheckUsername(name string) error {
	bad := func(msg string) error { return Invalid("username "+msg, FieldError{"username", msg}) }
	if len(name) < 3 || len(name) > 50 {
		return bad("must be 3 to 50 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return bad("may contain only letters A-Z, digits, '_', '.' and '-'")
		}
	}
	return nil
}
