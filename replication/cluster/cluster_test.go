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
