package api

import (
	"net/http"

	"github.com/h0p/h0p/shared/apierror"
)

// httpStatus is the HTTP status the API answers code with: the one mapping
// of codes to statuses, for fail and for the answers idempotency saves.
func httpStatus(code apierror.Code) int {
	switch code {
	case apierror.Unauthorized:
		return http.StatusUnauthorized
	case apierror.Forbidden, apierror.PlanLimitReached, apierror.FeatureNotAvailable:
		return http.StatusForbidden
	case apierror.NotFound:
		return http.StatusNotFound
	case apierror.MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case apierror.AlreadyExist, apierror.IdempotencyKeyInUse:
		return http.StatusConflict
	case apierror.IdempotencyKeyReused:
		return http.StatusUnprocessableEntity
	case apierror.ValidationError:
		return http.StatusBadRequest
	case apierror.PayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case apierror.UnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case apierror.RateLimited:
		return http.StatusTooManyRequests
	case apierror.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
