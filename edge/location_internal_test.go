package edge

import "testing"

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
		"https://a\u200db.example/ü":                "https://a\u200db.example/ü", // not a valid name: as stored
		"https://\xffb.example/":                    "https://\xffb.example/",
		"https://bü_cher.example/":                  "https://bü_cher.example/",
		"":                                          "",
	} {
		if got := asciiURL(in); got != want {
			t.Errorf("asciiURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzASCIIURL: a destination becomes ASCII, or stays as stored when its
// host is not a valid name; converting again changes nothing.
func FuzzASCIIURL(f *testing.F) {
	for _, s := range []string{"https://bücher.example/straße?q=ü#ü", "https://u:p@ü.example:1/", "//ü/", "a:ü", "https://[ü]/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		got := asciiURL(u)
		if got != u && !isASCII(got) {
			t.Fatalf("asciiURL(%q) = %q", u, got)
		}
		if isASCII(got) && asciiURL(got) != got {
			t.Fatalf("asciiURL(%q) = %q, then %q", u, got, asciiURL(got))
		}
		if isASCII(u) && got != u {
			t.Fatalf("asciiURL(%q) = %q", u, got)
		}
	})
}
