package password

import (
	"errors"
	"strings"
	"testing"
)

var fast = Params{Memory: 1024, Time: 1, Threads: 1}

func TestHashCheck(t *testing.T) {
	h := Hash("correct horse battery", fast)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if err := Check("correct horse battery", h); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := Check("correct horse battery!", h); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong password: %v", err)
	}
	if Hash("correct horse battery", fast) == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", "$argon2id$v=19$m=1,t=1,p=1$!!$AA"} {
		if err := Check("x", bad); err == nil || errors.Is(err, ErrMismatch) {
			t.Errorf("Check(%q) = %v", bad, err)
		}
	}
}

func TestValidate(t *testing.T) {
	if Validate("short") == nil || Validate(strings.Repeat("a", 257)) == nil || Validate("long enough pw") != nil {
		t.Error("Validate bounds wrong")
	}
}
