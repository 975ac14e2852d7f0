package apikey

import (
	"bytes"
	"strings"
	"testing"
)

func TestGenerateParse(t *testing.T) {
	for _, typ := range []Type{User, Bot} {
		k := Generate(typ)
		if len(k) != keyLen {
			t.Errorf("len %d, want %d", len(k), keyLen)
		}
		got, err := Parse(k)
		if err != nil || got != typ {
			t.Errorf("Parse(%q) = %v, %v; want %v", k, got, err, typ)
		}
		if Generate(typ) == k {
			t.Error("two keys are equal")
		}
	}
	if !strings.HasPrefix(Generate(User), "h0p_u_") || !strings.HasPrefix(Generate(Bot), "h0p_b_") {
		t.Error("wrong heads")
	}
}

func TestParseRejects(t *testing.T) {
	k := Generate(User)
	flip := []byte(k)
	flip[10] ^= 0x01 // still base62-ish, checksum now wrong
	for name, s := range map[string]string{
		"empty":     "",
		"truncated": k[:len(k)-1],
		"longer":    k + "a",
		"checksum":  string(flip),
		"bad type":  "h0p_x_" + k[6:],
		"bad char":  k[:8] + "-" + k[9:],
		"bad head":  "h0q_u_" + k[6:],
	} {
		if _, err := Parse(s); err == nil {
			t.Errorf("%s: %q accepted", name, s)
		}
	}
}

func TestDigestDependsOnPepper(t *testing.T) {
	k := Generate(Bot)
	if bytes.Equal(Digest([]byte("a"), k), Digest([]byte("b"), k)) {
		t.Error("digest ignores the pepper")
	}
	if !bytes.Equal(Digest([]byte("a"), k), Digest([]byte("a"), k)) {
		t.Error("digest is not deterministic")
	}
	if p := Prefix(k); len(p) != DisplayChars || !strings.HasPrefix(k, p) {
		t.Errorf("prefix %q", p)
	}
}

// FuzzParse: key parsing faces the internet on every API call.
func FuzzParse(f *testing.F) {
	f.Add(Generate(User))
	f.Add("h0p_b_")
	f.Fuzz(func(t *testing.T, s string) {
		if typ, err := Parse(s); err == nil && !strings.HasPrefix(s, head(typ)) {
			t.Fatalf("accepted %q as %v", s, typ)
		}
	})
}
