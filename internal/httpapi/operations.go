package httpapi

import (
	"bytes"
	"context"
	"time"

	"github.com/bookstore/bookstore/api"
	"github.com/bookstore/bookstore/gen/oapi"
)

func (s *Server) GetHealth(context.Context, oapi.GetHealthRequestObject) (oapi.GetHealthResponseObject, error) {
	return oapi.GetHealth200JSONResponse{Status: oapi.Ok}, nil
}

func (s *Server) GetReadiness(ctx context.Context, _ oapi.GetReadinessRequestObject) (oapi.GetReadinessResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return nil, unavailable(err)
	}
	return oapi.GetReadiness200JSONResponse{Status: oapi.Ok}, nil
}

func (s *Server) GetOpenApiSpec(context.Context, oapi.GetOpenApiSpecRequestObject) (oapi.GetOpenApiSpecResponseObject, error) {
	return specDocument(), nil
}

// specDocument is GET /openapi.yaml's answer; it needs no database, so the
// starting handler serves it too.
func specDocument() oapi.GetOpenApiSpec200ApplicationyamlResponse {
	return oapi.GetOpenApiSpec200ApplicationyamlResponse{
		Body:          bytes.NewReader(api.OpenAPIYAML),
		ContentLength: int64(len(api.OpenAPIYAML)),
	}
}

// GetRoot sends a browser pointed at the server to the documentation. 302
// rather than a permanent redirect: clients must not cache that / is docs.
func (s *Server) GetRoot(context.Context, oapi.GetRootRequestObject) (oapi.GetRootResponseObject, error) {
	return toDocs, nil
}

var toDocs = oapi.GetRoot302Response{Headers: oapi.GetRoot302ResponseHeaders{Location: docsPath}}
