package mcp

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/shared/apierror"
)

func TestToolErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want []string
	}{
		{&apiclient.Error{Status: 403, Code: apierror.Forbidden, Message: "missing permission shortLinks:delete", RequestID: "req_1"},
			[]string{"FORBIDDEN (HTTP 403): missing permission shortLinks:delete", "This API key lacks shortLinks:delete", "req_1"}},
		{&apiclient.Error{Status: 403, Code: apierror.Forbidden, Message: "a QR code reads its link: it needs the shortLinks read permission"},
			[]string{"needs the shortLinks read permission", "retrying with it will not help"}},
		{&apiclient.Error{Status: 400, Code: apierror.ValidationError, Message: "invalid link",
			Details: []apierror.Detail{{Field: "url", Reason: "is required"}, {Field: "key", Reason: "is too long"}}},
			[]string{"VALIDATION_ERROR (HTTP 400)", "- field url: is required", "- field key: is too long", "Fix the fields"}},
		{&apiclient.Error{Status: 429, Code: apierror.RateLimited, Message: "rate limit exceeded; retry in 2 s", RetryAfter: 2 * time.Second},
			[]string{"RATE_LIMITED", "wait 2s, then retry"}},
		{&apiclient.Error{Status: 429, Code: apierror.RateLimited, Message: "rate limit exceeded"},
			[]string{"wait a few seconds"}},
		{&apiclient.Error{Status: 401, Code: apierror.Unauthorized, Message: "invalid API key or session token"},
			[]string{"UNAUTHORIZED", "H0P_API_KEY"}},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"),
			[]string{"could not be reached", "connection refused", "H0P_API_URL"}},
	} {
		err := toolError(tc.err)
		te, ok := errors.AsType[*ToolError](err)
		if !ok {
			t.Errorf("%v: %T", tc.err, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(te.Text, w) {
				t.Errorf("%v: %q lacks %q", tc.err, te.Text, w)
			}
		}
		if api, ok := tc.err.(*apiclient.Error); ok && (te.API != api || !errors.Is(err, api)) {
			t.Errorf("%v: API %v", tc.err, te.API)
		}
	}
}

func TestOrigin(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://App.Example.com", "https://app.example.com"},
		{"https://app.example.com:443", "https://app.example.com"},
		{"http://localhost:80/", "http://localhost"},
		{"http://127.0.0.1:8080/api", "http://127.0.0.1:8080"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"null", ""},
		{"chrome-extension://abc", ""},
		{"https://", ""},
	} {
		got, err := origin(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("origin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
