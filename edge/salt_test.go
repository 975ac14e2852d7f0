package edge_test

import (
	"crypto/sha256"
	"net/netip"
	"testing"
	"time"

	"github.com/h0p/h0p/edge"
	"github.com/h0p/h0p/shared/clicks"
	"github.com/h0p/h0p/shared/kv"
)

func hashWith(salt []byte, ip string) (h [16]byte) {
	a := netip.MustParseAddr(ip).As16()
	sum := sha256.Sum256(append(append([]byte(nil), salt...), a[:]...))
	copy(h[:], sum[:16])
	return h
}

// A click is hashed with its day's salt from the store; without one, with
// the edge's own until the store has it; the next day, with the next day's.
func TestClicksHashWithTheDaysSalt(t *testing.T) {
	te := startEngine(t, func(te *testEdge) edge.Config {
		return edge.Config{Addr: "127.0.0.1:0", DefaultDomain: "localhost", FallbackToDefault: true, Logger: quiet,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
			Now:            func() time.Time { return time.UnixMilli(te.now.Load()).UTC() }}
	}, put(kv.Link{Slug: "s", URL: "https://example.com/"}))
	// The event-loop path memoises per connection: a new client per
	// request keeps each hash honest.
	click := func() clicks.Click {
		t.Helper()
		if a := te.do(t, req{path: "/s", headers: map[string]string{"X-Forwarded-For": "203.0.113.9", "Connection": "close"}}); a.status != 302 {
			t.Fatalf("redirect: %d", a.status)
		}
		return te.takeClicks(t, 1)[0]
	}
	day := kv.SaltDay(t0)
	own := click().IPHash
	if own == [16]byte{} {
		t.Fatal("no hash without a shared salt")
	}
	if again := click().IPHash; again != own {
		t.Fatal("the edge's own salt changed within the day")
	}
	salt := kv.Salt{Day: day}
	salt.Value[0] = 7
	te.apply(t, kv.Op{Type: kv.OpPutSalt, Salt: &salt})
	te.now.Add((11 * time.Second).Milliseconds()) // past the retry
	if got := click().IPHash; got != hashWith(salt.Value[:], "203.0.113.9") {
		t.Fatal("not hashed with the day's salt once the store had it")
	}
	next := kv.Salt{Day: day + 1}
	next.Value[0] = 8
	te.apply(t, kv.Op{Type: kv.OpPutSalt, Salt: &next})
	te.now.Store(time.Unix((day+1)*86400+60, 0).UnixMilli())
	if got := click().IPHash; got != hashWith(next.Value[:], "203.0.113.9") {
		t.Fatal("not hashed with the next day's salt")
	}
}

// A QR scan of a link that forwards no query is still a QR scan.
func TestQRScanOfALinkWithoutQueryForwarding(t *testing.T) {
	te := mustEngine(t, 16, put(kv.Link{Slug: "nq", URL: "https://example.com/", NoForwardQuery: true}))
	if a := te.do(t, req{path: "/nq?qr=1"}); a.status != 302 || a.location != "https://example.com/" {
		t.Fatalf("redirect: %d %q", a.status, a.location)
	}
	if c := te.takeClicks(t, 1)[0]; !c.QR {
		t.Fatalf("click %+v is not a QR scan", c)
	}
}
