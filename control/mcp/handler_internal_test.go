package mcp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/h0p/h0p/shared/apierror"
)

// keyHeader sends an API key with every request.
type keyHeader string

func (k keyHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("x-api-key", string(k))
	return http.DefaultTransport.RoundTrip(r)
}

// Close ends every session the endpoint holds, and refuses new ones.
func TestHandlerCloseEndsSessions(t *testing.T) {
	h, err := NewHandler(HTTPConfig{API: http.NotFoundHandler(), PublicURL: "http://127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, key := range []string{"h0p_b_one", "h0p_b_one", "h0p_b_two"} {
		client := mcpsdk.NewClient(&mcpsdk.Implementation{Name: "test", Version: "1"}, nil)
		cs, err := client.Connect(ctx, &mcpsdk.StreamableClientTransport{Endpoint: srv.URL,
			HTTPClient: &http.Client{Transport: keyHeader(key)}, MaxRetries: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
	}
	if n := len(slices.Collect(h.server.Sessions())); n != 3 {
		t.Fatalf("%d sessions before Close, want 3", n)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(slices.Collect(h.server.Sessions())); n != 0 {
		t.Errorf("%d sessions after Close", n)
	}
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`))
	req.Header.Set("x-api-key", "h0p_b_one")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("initialize after Close: %d", resp.StatusCode)
	}
}

func TestSDKCode(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   apierror.Code
	}{
		{400, apierror.ValidationError},
		{403, apierror.Forbidden},
		{404, apierror.NotFound},
		{405, apierror.MethodNotAllowed},
		{409, apierror.AlreadyExist},
		{413, apierror.PayloadTooLarge},
		{415, apierror.UnsupportedMediaType},
		{422, apierror.ValidationError},
		{500, apierror.Internal},
	} {
		if got := sdkCode(tc.status); got != tc.want {
			t.Errorf("sdkCode(%d) = %s, want %s", tc.status, got, tc.want)
		}
	}
}
