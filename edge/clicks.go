package edge

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Click is one redirect as analytics sees it. The edge hands it to a
// bounded queue and never waits: a full queue drops the click and counts
// it (h0p_edge_clicks_dropped_total). Shipping clicks to control is the
// analytics issue's; until then the queue only fills.
type Click struct {
	ID          string // evt… unique, so ingestion is idempotent
	Time        time.Time
	LinkID      string
	Domain      string
	Country     string
	Device      string
	Browser     string
	OS          string
	RefererHost string
	Bot         bool
	QR          bool
	IPHash      string // SHA-256 of salt and client IP, for unique counts
}

func newClickID() string {
	var b [12]byte
	rand.Read(b[:])
	return "clk_" + hex.EncodeToString(b[:])
}

// hashIP is the salted hash of a client IP (the raw IP never leaves the
// edge).
func hashIP(salt []byte, ip string) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(ip))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Clicks is the queue of click events, for the shipper to drain.
func (s *Server) Clicks() <-chan Click { return s.clicks }

func (s *Server) capture(c Click) {
	select {
	case s.clicks <- c:
	default:
		s.m.clickDrops.Inc()
	}
}
