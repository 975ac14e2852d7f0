package cluster

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/h0p/h0p/shared/apierror"
)

// The cluster endpoints answer in the product's one error envelope, and
// only to callers with a cluster certificate.
func TestErrorsAreTheEnvelope(t *testing.T) {
	h := &Handler{}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/cluster/v1/join", nil)) // no TLS
	var env apierror.Envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || rec.Code != http.StatusForbidden || env.Error.Code != apierror.Forbidden || env.Error.Message == "" {
		t.Errorf("%d %s (%v)", rec.Code, rec.Body, err)
	}
}

// Each code these endpoints use has the status the API gives it too.
func TestErrorStatuses(t *testing.T) {
	for code, want := range map[apierror.Code]int{
		apierror.Unauthorized:    http.StatusUnauthorized,
		apierror.Forbidden:       http.StatusForbidden,
		apierror.NotFound:        http.StatusNotFound,
		apierror.ValidationError: http.StatusBadRequest,
		apierror.Unavailable:     http.StatusServiceUnavailable,
		apierror.Internal:        http.StatusInternalServerError,
	} {
		rec := httptest.NewRecorder()
		writeError(rec, code, "why")
		var env apierror.Envelope
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Error.Code != code || env.Error.Message != "why" {
			t.Errorf("%s: body %s (%v)", code, rec.Body, err)
		}
		if got := rec.Code; got != want {
			t.Errorf("%s: got %d, want %d", code, got, want)
		}
		if got, want := rec.Header().Get("Content-Type"), "application/json; charset=utf-8"; got != want {
			t.Errorf("%s: Content-Type %q, want %q", code, got, want)
		}
	}
}
