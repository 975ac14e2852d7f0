package dashboard

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
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

// TestCookiesSecureOverTLS: the session cookie is Secure when the request
// came over TLS, and not over plain http (h0p dev on localhost).
func TestCookiesSecureOverTLS(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		r := httptest.NewRequest("POST", "/login", nil)
		if overTLS {
			r.TLS = &tls.ConnectionState{}
		}
		w := httptest.NewRecorder()
		setCookie(w, r, sessionCookie, "h0p_s_x", time.Now().Add(time.Hour))
		c := w.Result().Cookies()[0]
		if c.Secure != overTLS || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
			t.Errorf("over TLS %v: %+v", overTLS, c)
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
