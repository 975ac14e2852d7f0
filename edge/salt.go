package edge

import (
	"crypto/rand"
	"crypto/sha256"
	"net/netip"
	"time"

	"github.com/h0p/h0p/shared/kv"
)

// daySalt is what a click's IPHash is salted with: the salt of the click's
// UTC day from the replicated store, which control publishes a day ahead
// (control/visitorsalt), so every edge hashes a visitor alike that day and
// nobody can hash alike across days once the day's salt is gone. An edge
// that finds no salt for the day (cut off from control since before the
// day began) hashes with a random one of its own and looks again every
// saltRetry: its visitors that day are counted apart from other edges'.
// Config.ClickSalt, set, replaces all this with one fixed salt.
type daySalt struct {
	day     int64
	value   []byte
	shared  bool  // from the replicated store
	retryAt int64 // unix nanoseconds: look for the shared salt again (local salts)
}

const saltRetry = 10 * time.Second

// saltReader is what replication.Store offers beyond LinkReader.
type saltReader interface {
	Salt(day int64) ([32]byte, bool, error)
}

func (d *daySalt) hash(ip netip.Addr) (h [16]byte) {
	var buf [64]byte
	n := copy(buf[:48], d.value)
	ip16 := ip.As16()
	n += copy(buf[n:], ip16[:])
	sum := sha256.Sum256(buf[:n])
	copy(h[:], sum[:16])
	return h
}

// saltAt is the salt for a click at now: one atomic load while the day's
// salt is known.
func (s *Server) saltAt(now time.Time) *daySalt {
	d := s.salt.Load()
	if d != nil && (d.day < 0 || d.day == kv.SaltDay(now) && (d.shared || now.UnixNano() < d.retryAt)) {
		return d
	}
	return s.loadSalt(now)
}

// loadSalt finds now's day's salt, once at a time.
func (s *Server) loadSalt(now time.Time) *daySalt {
	s.saltMu.Lock()
	defer s.saltMu.Unlock()
	day := kv.SaltDay(now)
	old := s.salt.Load()
	if old != nil && old.day == day && (old.shared || now.UnixNano() < old.retryAt) {
		return old // loaded while this caller waited
	}
	if r, ok := s.links.(saltReader); ok {
		v, found, err := r.Salt(day)
		if err != nil {
			s.cfg.Logger.Warn("read the visitor salt", "day", day, "err", err)
		}
		if found {
			d := &daySalt{day: day, value: v[:], shared: true}
			s.salt.Store(d)
			return d
		}
	}
	d := &daySalt{day: day, retryAt: now.Add(saltRetry).UnixNano()}
	if old != nil && old.day == day {
		d.value = old.value // the same local salt all day
	} else {
		d.value = make([]byte, 32)
		rand.Read(d.value)
		s.cfg.Logger.Warn("no visitor salt for the day in the store; hashing with a salt of this edge's own", "day", day)
	}
	s.salt.Store(d)
	return d
}
