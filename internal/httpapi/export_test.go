package httpapi

import "github.com/getkin/kin-openapi/openapi3"

// BodyByteLimits is the body limit derived for each operation of spec that
// takes a body, by operationId.
func BodyByteLimits(spec *openapi3.T) map[string]int64 {
	limits := map[string]int64{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if lim, ok := bodyLimitsOf(op); ok {
				limits[op.OperationID] = lim.bytes
			}
		}
	}
	return limits
}

// MaxBodyBytes is the ceiling of every body limit.
const MaxBodyBytes = maxBodyBytes
