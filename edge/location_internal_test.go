package edge

import (
	"net/url"
	"strings"
	"testing"

	"github.com/h0p/h0p/shared/urlhost"
)

func TestASCIIURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://example.com/a?b=c#d":               "https://example.com/a?b=c#d",
		"https://bücher.example/straße?q=ü":         "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC",
		"https://BÜCHER.example./a#ü":               "https://xn--bcher-kva.example./a#%C3%BC",
		"https://user:pä@bücher.example:8443/x":     "https://user:p%C3%A4@xn--bcher-kva.example:8443/x",
		"https://bücher.example":                    "https://xn--bcher-kva.example",
		"https://例え.jp?ü":                           "https://xn--r8jz45g.jp?%C3%BC",
		"//bücher.example/x":                        "//xn--bcher-kva.example/x",
		"HTTP://bücher.example/":                    "HTTP://xn--bcher-kva.example/",
		"https://example.com/ü@bücher.example":      "https://example.com/%C3%BC@b%C3%BCcher.example", // a path, not a host
		"https://[2001:db8::1]:8080/ü":              "https://[2001:db8::1]:8080/%C3%BC",
		"mailto:ü@bücher.example":                   "mailto:%C3%BC@b%C3%BCcher.example",
		"/straße":                                   "/stra%C3%9Fe",
		"https://xn--bcher-kva.example/stra%C3%9Fe": "https://xn--bcher-kva.example/stra%C3%9Fe",
		"https://bü_cher.example/":                  "https://xn--b_cher-3ya.example/",
		"https://a_ü.example/ä":                     "https://xn--a_-yka.example/%C3%A4",
		"https://-ü.example/ä":                      "https://xn----eha.example/%C3%A4",
		"https://ä%C3%BC.example/":                  "https://xn--4ca2c.example/", // decoded, as control reads it
		"https://%C3%BC.example/ä":                  "https://%C3%BC.example/%C3%A4",
		// Hosts the mapping refuses: percent-encoded like the rest.
		"https://a\u200db.example/ü": "https://a%E2%80%8Db.example/%C3%BC",
		"https://\xffb.example/":     "https://%FFb.example/",
		"https://ü|.example/":        "https://%C3%BC|.example/",
		"https://ü%zz.example/":      "https://%C3%BC%zz.example/",
		"https://[ü]/":               "https://[%C3%BC]/",
		"":                           "",
	} {
		if got := asciiURL(in); got != want {
			t.Errorf("asciiURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzASCIIURL: a destination becomes ASCII, and an ASCII one stays as it
// is. One control accepts (an http or https URL without credentials whose
// host urlhost.OfURL takes: the checks of control/links on a host) keeps
// its host as control read it, converted, not percent-encoded, when it was
// not ASCII.
func FuzzASCIIURL(f *testing.F) {
	for _, s := range []string{"https://bücher.example/straße?q=ü#ü", "https://u:p@ü.example:1/", "//ü/", "a:ü", "https://[ü]/",
		"https://a_ü.example/ä", "https://-ü.example:8443/ä", "HTTPS://ä%C3%BC.example/", "https://a\u200db.example/ü",
		"http://１２７．０．０．１/ü", "https://ü.example#@x/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		got := asciiURL(u)
		if !isASCII(got) {
			t.Fatalf("asciiURL(%q) = %q", u, got)
		}
		if isASCII(u) && got != u {
			t.Fatalf("asciiURL(%q) = %q", u, got)
		}
		in, err := url.Parse(u)
		if err != nil || (!strings.EqualFold(in.Scheme, "http") && !strings.EqualFold(in.Scheme, "https")) || in.User != nil {
			return
		}
		want, err := urlhost.OfURL(in)
		if err != nil {
			return
		}
		out, err := url.Parse(got)
		if err != nil {
			t.Fatalf("asciiURL(%q) = %q: %v", u, got, err)
		}
		if h, err := urlhost.OfURL(out); err != nil || h != want {
			t.Fatalf("asciiURL(%q) = %q, whose host is %v (%v), not %v", u, got, h, err, want)
		}
		if from, to := hostOf(u); !isASCII(u[from:to]) {
			if from, to := hostOf(got); strings.Contains(got[from:to], "%") {
				t.Fatalf("asciiURL(%q) = %q: host percent-encoded", u, got)
			}
		}
	})
}
