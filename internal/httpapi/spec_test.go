package httpapi_test

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/bookstore/bookstore/internal/httpapi"
)

// TestSpecDescribesEveryOperation walks the spec: every operation has a
// description and its own security (no reliance on a global default), an
// admin-only operation says so both in its description and with
// x-admin-only, and the API names whom to contact.
func TestSpecDescribesEveryOperation(t *testing.T) {
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if c := spec.Info.Contact; c == nil || c.Name == "" || c.URL == "" && c.Email == "" {
		t.Error("info.contact needs a name and a url or an email")
	}
	if len(spec.Security) != 0 {
		t.Error("a global security requirement: each operation declares its own")
	}
	admins := 0
	for _, so := range specOperations(t) {
		op := so.op
		if strings.TrimSpace(op.Description) == "" {
			t.Errorf("%s has no description", so.id)
		}
		if op.Security == nil {
			t.Errorf("%s has no security of its own (security: [] for a public one)", so.id)
		}
		for code := range op.Responses.Map() {
			if _, err := strconv.Atoi(code); err != nil {
				t.Errorf("%s declares %q: declare each status (no default, no ranges)", so.id, code)
			}
		}
		adminOnly, says := op.Extensions["x-admin-only"] == true, strings.Contains(op.Description, "Admin only")
		if adminOnly != says {
			t.Errorf("%s: x-admin-only is %v, yet its description says \"Admin only\": %v; say it in both or neither", so.id, adminOnly, says)
		}
		if adminOnly {
			admins++
			if !acceptsToken(so) || !declares(op, 403) {
				t.Errorf("%s is admin-only: it needs a token and declares 403", so.id)
			}
		}
	}
	if admins < 3 {
		t.Errorf("only %d admin-only operations; the spec has more", admins)
	}
}

// TestSpecExamples: every request body and every success response with a
// body has a media-type-level example, and every media-type example of the
// spec (problem responses included) is valid against its schema.
func TestSpecExamples(t *testing.T) {
	checked := 0
	check := func(where string, content openapi3.Content, required bool) {
		names := make([]string, 0, len(content))
		for name := range content {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			mt := content[name]
			examples := map[string]any{}
			if mt.Example != nil {
				examples["example"] = mt.Example
			}
			for exName, ex := range mt.Examples {
				if ex == nil || ex.Value == nil || ex.Value.Value == nil {
					t.Errorf("%s %s: example %s has no value", where, name, exName)
					continue
				}
				examples["examples."+exName] = ex.Value.Value
			}
			if len(examples) == 0 {
				if required {
					t.Errorf("%s %s: no media-type-level example", where, name)
				}
				continue
			}
			if mt.Schema == nil || mt.Schema.Value == nil {
				t.Errorf("%s %s: an example but no schema", where, name)
				continue
			}
			for exName, v := range examples {
				checked++
				if err := mt.Schema.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
					t.Errorf("%s %s: %s does not match the schema: %v", where, name, exName, err)
				}
			}
		}
	}
	for _, so := range specOperations(t) {
		if so.op.RequestBody != nil {
			check(so.id+" request body", so.op.RequestBody.Value.Content, true)
		}
		for code, ref := range so.op.Responses.Map() {
			success := strings.HasPrefix(code, "2")
			check(so.id+" "+code, ref.Value.Content, success)
		}
	}
	if checked < 30 {
		t.Errorf("only %d examples checked", checked)
	}
}

// declares reports whether op lists status.
func declares(op *openapi3.Operation, status int) bool {
	return op.Responses.Status(status) != nil
}

// acceptsToken reports whether an operation's security takes an access
// token (the bearer or the seed's header), required or not.
func acceptsToken(so specOperation) bool {
	if so.op.Security == nil {
		return false
	}
	for _, req := range *so.op.Security {
		if _, ok := req["bearerAuth"]; ok {
			return true
		}
	}
	return false
}
