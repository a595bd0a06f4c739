package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEListsEverySetting compares the README's configuration table
// with the settings --help lists: every setting needs a row naming its
// variable, its flag and its default, and every row a setting.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Configuration\n")
	if start < 0 {
		t.Fatal("README.md has no Configuration section")
	}
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	rows := make(map[string]string) // variable → its row
	row := regexp.MustCompile("(?m)^\\| `(BOOKSTORE_[A-Z0-9_]+)`.*$")
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		rows[m[1]] = m[0]
	}
	listed := map[string]bool{envAdminUsername: true, envAdminPassword: true} // environment only
	for _, s := range settings() {
		listed[s.env] = true
		r, ok := rows[s.env]
		if !ok {
			t.Errorf("the README's configuration table has no row for %s (--%s)", s.env, s.flag)
			continue
		}
		if !strings.Contains(r, "`--"+s.flag+"`") {
			t.Errorf("the README's row for %s does not name the flag --%s:\n%s", s.env, s.flag, r)
		}
		if s.def != "" && !strings.Contains(r, "`"+s.def+"`") {
			t.Errorf("the README's row for %s does not give the default %s:\n%s", s.env, s.def, r)
		}
	}
	for env := range rows {
		if !listed[env] {
			t.Errorf("the README's configuration table lists %s, which is no setting", env)
		}
	}
}

// TestLicenseMatchesSpec checks that the repository's LICENSE is the one
// the spec's info.license names.
func TestLicenseMatchesSpec(t *testing.T) {
	license, err := os.ReadFile(filepath.Join("..", "..", "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile(filepath.Join("..", "..", "api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^  license:\n    name: (\S+)`).FindSubmatch(spec)
	if m == nil {
		t.Fatal("the spec has no info.license.name")
	}
	if want := string(m[1]) + " License\n"; !strings.HasPrefix(string(license), want) {
		t.Errorf("LICENSE does not start with %q, the spec's license", want)
	}
}
