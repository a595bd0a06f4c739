// Command importcheck enforces the import rule of ARCHITECTURE.md ("The
// import rule"): the domain depends on nothing of ours, adapters never
// import each other, and only the adapter that owns a generated package
// imports it. The public Go client (client/) is the one other owner of
// gen/oapi, and imports nothing under internal/: other modules cannot
// import internal packages, and they must be able to use the client. It
// reads `go list -deps -json ./...` and exits 1 listing every import that
// breaks a rule. Test files are not checked: tests may drive the API
// through gen/oapi's client.
//
// Run it from the module root: go run ./cmd/importcheck (make importcheck)
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// rule lists what the packages matching pkg may import: of this module,
// the packages matching one of may; of other modules, those in external
// (nil: any). Paths are relative to the module; "x/..." matches x and
// everything below it.
type rule struct {
	pkg      string
	may      []string
	external []string
}

// stdOnly is an external allowlist that admits no module at all.
var stdOnly = []string{}

func rules() []rule {
	return []rule{
		{pkg: "api", external: stdOnly},
		{pkg: "sql", external: stdOnly},
		{pkg: "gen/..."},
		{pkg: "internal/bookstore", external: []string{"github.com/google/uuid"}},
		{pkg: "internal/auth", may: []string{"internal/bookstore"}},
		{pkg: "internal/httpapi", may: []string{"internal/bookstore", "internal/auth", "gen/oapi", "api"}},
		{pkg: "internal/sqlite", may: []string{"internal/bookstore", "internal/keyset", "gen/sqlitedb", "sql"}},
		{pkg: "internal/postgres", may: []string{"internal/bookstore", "internal/keyset", "gen/pgdb", "sql"}},
		// The keyset-paged SELECT both adapters build: plain SQL text.
		{pkg: "internal/keyset", external: stdOnly},
		{pkg: "internal/storetest", may: []string{"internal/bookstore"}},
		// Decorates the store with spans, in domain terms.
		{pkg: "internal/tracing", may: []string{"internal/bookstore"}},
		// The public client fronts the generated one; other modules
		// import it, so nothing internal, and few dependencies.
		{pkg: "client", may: []string{"gen/oapi"}, external: []string{"github.com/google/uuid", "go.opentelemetry.io/otel"}},
		// The load benchmark drives the API as a client would, through
		// the generated client rather than copies of its types.
		{pkg: "cmd/loadbench", may: []string{"internal/...", "api", "sql", "gen/oapi"}},
		// Everything else (cmd/bookstore, benchmarks, future tools) wires
		// the pieces together: it may import any of them but not generated
		// code, which belongs to its adapter.
		{pkg: "...", may: []string{"internal/...", "api", "sql"}},
	}
}

// pkg is the part of `go list -json` output the rules need.
type pkg struct {
	ImportPath string
	Standard   bool
	DepOnly    bool
	Imports    []string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

func main() {
	out, err := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Standard,DepOnly,Imports,Module,Error", "./...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			os.Stderr.Write(ee.Stderr)
		}
		fmt.Fprintln(os.Stderr, "importcheck: go list:", err)
		os.Exit(1)
	}
	pkgs, err := decode(bytes.NewReader(out))
	if err != nil {
		fmt.Fprintln(os.Stderr, "importcheck:", err)
		os.Exit(1)
	}
	problems := check(pkgs)
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "importcheck: %d import(s) break the import rule (ARCHITECTURE.md, \"The import rule\")\n", len(problems))
		os.Exit(1)
	}
}

func decode(r io.Reader) ([]pkg, error) {
	var pkgs []pkg
	dec := json.NewDecoder(r)
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}

// check returns one message per import that breaks a rule. The packages
// listed without DepOnly are this module's; the others tell it which
// imports are standard.
func check(pkgs []pkg) []string {
	standard := make(map[string]bool)
	module := ""
	for _, p := range pkgs {
		standard[p.ImportPath] = p.Standard
		if !p.DepOnly && p.Module != nil {
			module = p.Module.Path
		}
	}
	var problems []string
	for _, p := range pkgs {
		if p.DepOnly || p.Standard {
			continue
		}
		rel, ok := relative(module, p.ImportPath)
		if !ok {
			continue
		}
		r := ruleFor(rel)
		for _, imp := range p.Imports {
			if standard[imp] || imp == "C" {
				continue
			}
			if irel, ours := relative(module, imp); ours {
				if !slices.ContainsFunc(r.may, func(pattern string) bool { return match(pattern, irel) }) {
					problems = append(problems, fmt.Sprintf("%s imports %s: it may import only %s of this module", rel, irel, list(r.may)))
				}
				continue
			}
			if r.external != nil && !slices.ContainsFunc(r.external, func(m string) bool { return imp == m || strings.HasPrefix(imp, m+"/") }) {
				problems = append(problems, fmt.Sprintf("%s imports %s: it may import only the standard library%s", rel, imp, andList(r.external)))
			}
		}
	}
	return problems
}

func relative(module, path string) (string, bool) {
	if module == "" {
		return "", false
	}
	if path == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// ruleFor returns the first rule that matches rel; the last matches all.
func ruleFor(rel string) rule {
	for _, r := range rules() {
		if match(r.pkg, rel) {
			return r
		}
	}
	panic("importcheck: no catch-all rule")
}

// match reports whether rel matches pattern: exactly, or below it when
// pattern ends in "/...". The pattern "..." matches everything.
func match(pattern, rel string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == base || strings.HasPrefix(rel, base+"/")
	}
	return rel == pattern
}

func list(paths []string) string {
	if len(paths) == 0 {
		return "nothing"
	}
	return strings.Join(paths, ", ")
}

func andList(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	return " and " + strings.Join(paths, ", ")
}
