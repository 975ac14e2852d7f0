package urlhost

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// The expectations are what browsers make of http://<host>/ (checked
// against a WHATWG URL implementation); "" is a host they refuse.
func TestParse(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		// IPv4 in every form the standard's parser takes.
		{"127.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0X7F000001", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0X7F.1", "127.0.0.1"},
		{"0x7f.0x0.0x0.0x1", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0177.1", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"0300.0250.0.1", "192.168.0.1"},
		{"127.0.0.1.", "127.0.0.1"},
		{"127.1.", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"0x", "0.0.0.0"},
		{"00", "0.0.0.0"},
		{"1.0x", "1.0.0.0"},
		{"0.0.0.0x", "0.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"0xffffffff", "255.255.255.255"},
		{"1.16777215", "1.255.255.255"},
		{"１２７．０．０．１", "127.0.0.1"}, // full-width digits and stops
		{"127。0。0。1", "127.0.0.1"}, // ideographic full stops
		// Numbers that are not addresses: browsers refuse the URL.
		{"4294967296", ""},
		{"0x100000000", ""},
		{"1.2.3.256", ""},
		{"256.0.0.1", ""},
		{"1.16777216", ""},
		{"1.2.3.4.5", ""},
		{"09", ""},
		{"0x7g", "0x7g"}, // not a number: a domain
		{"00x7f.1", ""},
		{"foo.0x7f", ""},
		{"foo.127", ""},
		{"1..1", ""},
		{"127.xn--", ""},
		// IPv6.
		{"[::1]", "[::1]"},
		{"[0:0:0:0:0:0:0:1]", "[::1]"},
		{"[0000::0001]", "[::1]"},
		{"[::ffff:127.0.0.1]", "[::ffff:7f00:1]"},
		{"[::FFFF:7F00:1]", "[::ffff:7f00:1]"},
		{"[::127.0.0.1]", "[::7f00:1]"},
		{"[1:2:3:4:5:6:7:8]", "[1:2:3:4:5:6:7:8]"},
		{"[1::]", "[1::]"},
		{"[::1%eth0]", ""},
		{"[::1", ""},
		{"[1.2.3.4]", ""},
		{"[::01.2.3.4]", ""},
		{"[::1.2.3]", ""},
		{"[1::2::3]", ""},
		{"[00000::1]", ""},
		// Domains: ASCII, lowercase.
		{"LOCALHOST", "localhost"},
		{"localhost.", "localhost."},
		{"ＬＯＣＡＬＨＯＳＴ.", "localhost."},
		{"Bücher.example", "xn--bcher-kva.example"},
		{"faß.de", "xn--fa-hia.de"},
		{"xn--fa-hia.de", "xn--fa-hia.de"},
		{"exa_mple.com", "exa_mple.com"},
		{"-foo.com", "-foo.com"},
		{"a..b", "a..b"},
		{"127.0.0.1..", "127.0.0.1.."},
		{"0x7f.example", "0x7f.example"},
		{"1.2.3.4x", "1.2.3.4x"},
		{"xn--.a", ""},
		{"xn--zz", ""},
		{"%31", ""},
		{"a b", ""},
		{"a|b", ""},
		{"", ""},
	} {
		h, err := Parse(tc.host)
		got := h.String()
		if err != nil {
			got = ""
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %q (%v), want %q", tc.host, got, err, tc.want)
		}
		if err == nil && h.IsIP() == (h.Domain != "") {
			t.Errorf("Parse(%q) = %+v: an address and a domain", tc.host, h)
		}
	}
}

// ToASCII is the mapping Parse gives domains, with what browsers take that
// IDNA's lookup profile refuses (an underscore, a label beginning or ending
// with a hyphen, hyphens in its third and fourth places); "" is refused.
func TestToASCII(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		{"example.com", "example.com"},
		{"Bücher.example", "xn--bcher-kva.example"},
		{"BÜCHER.example.", "xn--bcher-kva.example."},
		{"faß.de", "xn--fa-hia.de"}, // not transitional: ß stays
		{"xn--fa-hia.de", "xn--fa-hia.de"},
		{"例え。jp", "xn--r8jz45g.jp"},
		{"ＬＯＣＡＬＨＯＳＴ", "localhost"},
		{"a_ü.example", "xn--a_-yka.example"},
		{"bü_cher.example", "xn--b_cher-3ya.example"},
		{"-ü.example", "xn----eha.example"},
		{"ü-.example", "xn----dha.example"},
		{"ab--ü.example", "xn--ab---3ra.example"},
		{"１２７．０．０．１", "127.0.0.1"}, // an address only to Parse
		{"0x7f.1", "0x7f.1"},
		{"a\u200db.example", ""}, // a joiner with nothing to join
		{"\xffb.example", ""},    // not UTF-8
		{"ü|.example", ""},       // a forbidden domain code point
		{"ü.example/", ""},
		{"xn--zz", ""},
		{"xn--.a", ""},
		{"[::1]", ""},
		{"", ""},
	} {
		got, err := ToASCII(tc.host)
		if err != nil {
			got = ""
		}
		if got != tc.want {
			t.Errorf("ToASCII(%q) = %q (%v), want %q", tc.host, got, err, tc.want)
		}
		if h, err := Parse(tc.host); err == nil && !h.IsIP() && h.Domain != got {
			t.Errorf("Parse(%q) = %q, ToASCII %q", tc.host, h.Domain, got)
		}
	}
}

func TestOfURL(t *testing.T) {
	for raw, want := range map[string]string{
		"http://0x7f000001:8081/":               "127.0.0.1",
		"http://[::1]:8081/x":                   "[::1]",
		"https://[::ffff:7f00:1]/":              "[::ffff:7f00:1]",
		"http://%EF%BC%91%EF%BC%92%EF%BC%97.1/": "127.0.0.1", // "１２７.1" percent-encoded
		"HTTP://Example.COM.:80/":               "example.com.",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		h, err := OfURL(u)
		if err != nil || h.String() != want {
			t.Errorf("OfURL(%s) = %v, %v; want %s", raw, h, err, want)
		}
	}
}

// FuzzParse: Parse never panics; what it returns parses back to itself
// (one canonical form); it agrees with netip on the dotted-decimal and
// bracketed forms both read; and IPv4 parsing agrees with the arithmetic
// of the standard on the four-number form.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "127.1", "0x7f.1", "0177.0.0.1", "2130706433", "[::ffff:127.0.0.1]",
		"[::1]", "localhost.", "１２７．０．０．１", "xn--fa-hia.de", "1.2.3.256", "0x", "a..b", "[1::2:3:4:5:6:7]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			if a, err2 := netip.ParseAddr(s); err2 == nil && a.Is4() {
				t.Fatalf("Parse(%q): %v; netip reads %v", s, err, a)
			}
			return
		}
		again, err := Parse(h.String())
		if err != nil || again != h {
			t.Fatalf("Parse(%q) = %+v, whose form %q parses to %+v, %v", s, h, h.String(), again, err)
		}
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() && h.Addr != a {
			t.Fatalf("Parse(%q) = %v, netip reads %v", s, h, a)
		}
		if strings.HasPrefix(s, "[") {
			if a, err := netip.ParseAddr(s[1 : len(s)-1]); err != nil || a.Zone() != "" || !a.Is6() || a != h.Addr {
				t.Fatalf("Parse(%q) = %v, netip reads %v, %v", s, h, a, err)
			}
		}
		if h.IsIP() == (h.Domain != "") {
			t.Fatalf("Parse(%q) = %+v: an address and a domain", s, h)
		}
	})
}
