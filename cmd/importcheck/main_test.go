package main

import (
	"reflect"
	"testing"
)

func TestCheck(t *testing.T) {
	mod := &struct{ Path string }{"example.com/m"}
	pkgs := []pkg{
		{ImportPath: "fmt", Standard: true, DepOnly: true},
		{ImportPath: "github.com/google/uuid", DepOnly: true},
		{ImportPath: "github.com/golang-jwt/jwt/v5", DepOnly: true},
		{ImportPath: "example.com/m/internal/bookstore", Module: mod, Imports: []string{"fmt", "github.com/google/uuid"}},
		{ImportPath: "example.com/m/internal/auth", Module: mod, Imports: []string{"example.com/m/internal/bookstore", "github.com/golang-jwt/jwt/v5"}},
		{ImportPath: "example.com/m/gen/oapi", Module: mod, Imports: []string{"fmt"}},
		{ImportPath: "example.com/m/internal/httpapi", Module: mod, Imports: []string{"example.com/m/gen/oapi", "example.com/m/internal/auth"}},
		{ImportPath: "example.com/m/cmd/bookstore", Module: mod, Imports: []string{"example.com/m/internal/httpapi"}},
		{ImportPath: "example.com/m/client", Module: mod, Imports: []string{"example.com/m/gen/oapi", "github.com/google/uuid"}},
	}
	if got := check(pkgs); len(got) != 0 {
		t.Fatalf("a clean module: %q", got)
	}

	bad := append(pkgs[:len(pkgs):len(pkgs)],
		pkg{ImportPath: "example.com/m/internal/sqlite", Module: mod, Imports: []string{"example.com/m/internal/httpapi", "example.com/m/gen/oapi"}},
		pkg{ImportPath: "example.com/m/cmd/baseline", Module: mod, Imports: []string{"example.com/m/internal/auth", "example.com/m/gen/sqlitedb"}},
		// The load benchmark may use the generated client, and only it.
		pkg{ImportPath: "example.com/m/cmd/loadbench", Module: mod, Imports: []string{"example.com/m/gen/oapi", "example.com/m/gen/pgdb"}},
	)
	bad[8].Imports = append(bad[8].Imports, "example.com/m/internal/auth", "github.com/golang-jwt/jwt/v5") // client
	bad[3].Imports = append(bad[3].Imports, "github.com/golang-jwt/jwt/v5")                                // bookstore
	bad[7].Imports = append(bad[7].Imports, "example.com/m/gen/oapi")                                      // cmd
	want := []string{
		"internal/bookstore imports github.com/golang-jwt/jwt/v5: it may import only the standard library and github.com/google/uuid",
		"cmd/bookstore imports gen/oapi: it may import only internal/..., api, sql of this module",
		"client imports internal/auth: it may import only gen/oapi of this module",
		"client imports github.com/golang-jwt/jwt/v5: it may import only the standard library and github.com/google/uuid, go.opentelemetry.io/otel",
		"internal/sqlite imports internal/httpapi: it may import only internal/bookstore, internal/keyset, gen/sqlitedb, sql of this module",
		"internal/sqlite imports gen/oapi: it may import only internal/bookstore, internal/keyset, gen/sqlitedb, sql of this module",
		"cmd/baseline imports gen/sqlitedb: it may import only internal/..., api, sql of this module",
		"cmd/loadbench imports gen/pgdb: it may import only internal/..., api, sql, gen/oapi of this module",
	}
	if got := check(bad); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
