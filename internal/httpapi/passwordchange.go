package httpapi

import (
	"context"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
)

// passwordChangeAllowed are the operations a session whose account must
// change its password may still call: the change itself, and ending the
// session. (Login and refresh take no access token, so no caller reaches
// them through this gate.)
var passwordChangeAllowed = map[string]bool{"changePassword": true, "logout": true}

// passwordChangeGate answers 403 /problems/password-change-required to a
// caller whose account must change its password (an imported password that
// fails today's policy), on every operation that takes an access token but
// those of passwordChangeAllowed. It runs after the validator, so a bad or
// missing token is still 401 and a bad request 400. It is a check on the
// authenticated caller, whatever created the session.
type passwordChangeGate struct {
	bearer map[string]bool // operationIDs that take an access token
}

func newPasswordChangeGate(spec *openapi3.T) passwordChangeGate {
	g := passwordChangeGate{bearer: map[string]bool{}}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			sec := spec.Security
			if op.Security != nil {
				sec = *op.Security
			}
			for _, req := range sec {
				if _, ok := req["bearerAuth"]; ok {
					g.bearer[op.OperationID] = true
				}
			}
		}
	}
	return g
}

func (g passwordChangeGate) check(ctx context.Context, operationID string) *problem {
	p, ok := principalFrom(ctx)
	if !ok || !p.PasswordChangeRequired || !g.bearer[operationID] || passwordChangeAllowed[operationID] {
		return nil
	}
	return newProblem(http.StatusForbidden, typePasswordChange, "You must change your password first.",
		"your password does not meet the password policy: change it with PUT /users/me/password")
}
