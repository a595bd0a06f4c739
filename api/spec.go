// Package api holds the OpenAPI document, the contract every other layer is
// generated from or checked against.
package api

import _ "embed"

// OpenAPIYAML is api/openapi.yaml as written, served at GET /openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte
