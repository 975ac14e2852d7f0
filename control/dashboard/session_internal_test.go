package dashboard

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLocalPath(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"", "/links"},
		{"/org", "/org"},
		{"/links?q=a&tag=b", "/links?q=a&tag=b"},
		{"//evil.example/x", "/links"},
		{"/\\evil.example", "/links"},
		{"https://evil.example/", "/links"},
		{"evil.example", "/links"},
		{"javascript:alert(1)", "/links"},
	} {
		if got := localPath(tc.next); got != tc.want {
			t.Errorf("localPath(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}

// TestCookiesSecure: cookies are Secure when the request came over TLS
// or the public URL is https (a proxy in front terminates TLS), and not
// over plain http to a plain URL (h0p dev on localhost).
func TestCookiesSecure(t *testing.T) {
	for _, tc := range []struct {
		publicURL string
		overTLS   bool
		want      bool
	}{
		{"http://localhost:8080", false, false},
		{"http://localhost:8080", true, true},
		{"https://api.h0p.example", false, true},
		{"HTTPS://api.h0p.example", false, true},
		{"", false, false},
	} {
		h, err := New(Config{API: http.NotFoundHandler(), Pepper: make([]byte, 32), PublicURL: tc.publicURL})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/login", nil)
		if tc.overTLS {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		cookies := w.Result().Cookies()
		if len(cookies) == 0 {
			t.Fatalf("%s, TLS %v: no cookie", tc.publicURL, tc.overTLS)
		}
		for _, c := range cookies {
			if c.Secure != tc.want || !c.HttpOnly || c.Path != "/" {
				t.Errorf("%s, TLS %v: %+v, want Secure %v", tc.publicURL, tc.overTLS, c, tc.want)
			}
		}
	}
}

// TestCSRFTokenBoundToTheSession: a token is the session's alone, and
// another pepper's key makes other tokens.
func TestCSRFTokenBoundToTheSession(t *testing.T) {
	key := func(b byte) []byte {
		k, err := csrfKey(append(make([]byte, 31), b))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	h, other := &Handler{csrfKey: key(1)}, &Handler{csrfKey: key(2)}
	a := h.csrfToken("session", "h0p_s_a")
	if a != h.csrfToken("session", "h0p_s_a") || a == h.csrfToken("session", "h0p_s_b") ||
		a == h.csrfToken("pre", "h0p_s_a") || a == other.csrfToken("session", "h0p_s_a") {
		t.Error("tokens are not bound to their session, purpose and key")
	}
	if _, err := csrfKey(make([]byte, 16)); err == nil {
		t.Error("a short pepper makes a key")
	}
}
