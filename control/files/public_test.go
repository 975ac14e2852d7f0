package files

import (
	"bytes"
	"strings"
	"testing"
)

func TestURLs(t *testing.T) {
	secret := bytes.Repeat([]byte{1}, 32)
	u, err := NewURLs("https://api.example/", secret)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewURLs("https://api.example", bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	url := u.URL("file_1")
	sig := strings.TrimPrefix(url, "https://api.example/f/file_1/")
	if sig == url || len(sig) != sigLen || strings.ContainsAny(sig, "+/=") {
		t.Fatalf("URL = %q; want https://api.example/f/file_1/ and 22 base64url characters", url)
	}
	if again := u.URL("file_1"); again != url {
		t.Errorf("URL not stable: %q, %q", url, again)
	}
	for _, tt := range []struct {
		name    string
		u       *URLs
		id, sig string
		want    bool
	}{
		{"its own", u, "file_1", sig, true},
		{"another file's", u, "file_2", sig, false},
		{"another secret's", other, "file_1", sig, false},
		{"cut short", u, "file_1", sig[:sigLen-1], false},
		{"empty", u, "file_1", "", false},
	} {
		if got := tt.u.Valid(tt.id, tt.sig); got != tt.want {
			t.Errorf("%s: Valid = %v, want %v", tt.name, got, tt.want)
		}
	}
	if _, err := NewURLs("https://api.example", make([]byte, 16)); err == nil {
		t.Error("NewURLs with a short secret: no error")
	}
}
