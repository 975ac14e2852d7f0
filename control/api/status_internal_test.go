package api

import (
	"net/http"
	"testing"

	"github.com/h0p/h0p/shared/apierror"
)

func TestHTTPStatus(t *testing.T) {
	for code, want := range map[apierror.Code]int{
		apierror.Unauthorized:          http.StatusUnauthorized,
		apierror.Forbidden:             http.StatusForbidden,
		apierror.PlanLimitReached:      http.StatusForbidden,
		apierror.FeatureNotAvailable:   http.StatusForbidden,
		apierror.NotFound:              http.StatusNotFound,
		apierror.MethodNotAllowed:      http.StatusMethodNotAllowed,
		apierror.AlreadyExist:          http.StatusConflict,
		apierror.IdempotencyKeyInUse:   http.StatusConflict,
		apierror.IdempotencyKeyReused:  http.StatusUnprocessableEntity,
		apierror.ValidationError:       http.StatusBadRequest,
		apierror.PayloadTooLarge:       http.StatusRequestEntityTooLarge,
		apierror.RateLimited:           http.StatusTooManyRequests,
		apierror.Unavailable:           http.StatusServiceUnavailable,
		apierror.Internal:              http.StatusInternalServerError,
		apierror.Code("SOMETHING_NEW"): http.StatusInternalServerError,
	} {
		if got := httpStatus(code); got != want {
			t.Errorf("httpStatus(%s) = %d, want %d", code, got, want)
		}
	}
}
