package slug

import (
	"strings"
	"testing"
)

func TestRandom(t *testing.T) {
	s := Random(DefaultLen)
	if len(s) != DefaultLen || Validate(s) != nil {
		t.Fatalf("Random gave %q", s)
	}
	if Random(DefaultLen) == s {
		t.Error("two random slugs are equal")
	}
}

func TestValidate(t *testing.T) {
	long := make([]byte, MaxLen+1)
	for i := range long {
		long[i] = 'a'
	}
	for s, ok := range map[string]bool{
		"abc": true, "A-b_c.d~e": true, "docs/intro": true, string(long[:MaxLen]): true,
		"": false, string(long): false, "/abc": false, "abc/": false, "a//b": false,
		"a/../b": false, ".": false, "héllo": false, "a b": false, "a?b": false, "a%20": false,
		"robots.txt": false, "Favicon.ico": false, ".well-known/x": false,
	} {
		if err := Validate(s); (err == nil) != ok {
			t.Errorf("Validate(%q) = %v, want ok=%v", s, err, ok)
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("abc/def")
	f.Fuzz(func(t *testing.T, s string) {
		if Validate(s) == nil && (len(s) == 0 || s[0] == '/' || s[len(s)-1] == '/') {
			t.Fatalf("accepted %q", s)
		}
	})
}

func TestRandomNoLookalike(t *testing.T) {
	for range 100 {
		s := RandomNoLookalike(12)
		if len(s) != 12 || Validate(s) != nil || strings.ContainsAny(s, "0O1lI") {
			t.Fatalf("RandomNoLookalike gave %q", s)
		}
	}
}
