package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/shared/clicks"
)

// Ingest stores b exactly once (see analytics.Store): its chunks, its
// rollup counts and the edge's new sequence go in one synced Pebble batch.
func (s *Store) Ingest(ctx context.Context, b *clicks.Batch, orgsOf analytics.OrgsOf) (analytics.Ingested, error) {
	if b.Edge == "" || strings.IndexByte(b.Edge, 0) >= 0 {
		return analytics.Ingested{}, fmt.Errorf("ingest: edge id %q: %w", b.Edge, clicks.ErrRejected)
	}
	e := s.edge(b.Edge)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := s.loadSeq(b.Edge, e); err != nil {
		return analytics.Ingested{}, err
	}
	if e.have && b.Seq <= e.last {
		return analytics.Ingested{Duplicate: true}, nil
	}
	orgs, err := analytics.BatchOrgs(ctx, b, orgsOf)
	if err != nil {
		return analytics.Ingested{}, err
	}
	f := newFold()
	for i := range b.Clicks {
		c := &b.Clicks[i]
		org, ok := orgs[c.LinkID]
		if !ok || !validID(org) || !validID(c.LinkID) {
			f.Dropped++
			continue
		}
		f.add(c, org)
	}
	wb := s.db.NewBatch()
	defer wb.Close()
	if err := f.write(wb, b.Edge, b.Seq); err != nil {
		return analytics.Ingested{}, fmt.Errorf("ingest: %w", err)
	}
	if err := wb.Set(seqKey(b.Edge), binary.BigEndian.AppendUint64(nil, b.Seq), nil); err != nil {
		return analytics.Ingested{}, fmt.Errorf("ingest: %w", err)
	}
	if err := wb.Commit(pebble.Sync); err != nil {
		return analytics.Ingested{}, fmt.Errorf("ingest: commit: %w", err)
	}
	e.last, e.have = b.Seq, true
	return f.Ingested(), nil
}

func validID(id string) bool { return id != "" && strings.IndexByte(id, 0) < 0 }

func (s *Store) edge(id string) *edgeState {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.edges[id]
	if e == nil {
		e = &edgeState{}
		s.edges[id] = e
	}
	return e
}

// loadSeq reads the edge's last sequence once; e.mu is held.
func (s *Store) loadSeq(edge string, e *edgeState) error {
	if e.loaded {
		return nil
	}
	v, closer, err := s.db.Get(seqKey(edge))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return fmt.Errorf("ingest: sequence of %s: %w", edge, err)
	default:
		if len(v) == 8 {
			e.last, e.have = binary.BigEndian.Uint64(v), true
		}
		closer.Close()
		if !e.have {
			return fmt.Errorf("ingest: sequence of %s: corrupt", edge)
		}
	}
	e.loaded = true
	return nil
}

// fold is a batch folded in memory: its clicks grouped into chunks, one
// count per distinct org rollup key, one profile per link and hour.
type fold struct {
	chunks   map[chunkID][]*clicks.Click
	keys     map[string]int // the org's hourly rollup keys → index in counts
	counts   []uint64
	profiles map[chunkID]profileFold
	key      []byte
	analytics.Tally
}

// chunkID names a chunk, and a link's hourly profile.
type chunkID struct {
	org, link string
	hour      uint32
}

func newFold() *fold {
	return &fold{chunks: map[chunkID][]*clicks.Click{}, keys: map[string]int{}, profiles: map[chunkID]profileFold{}}
}

func (f *fold) add(c *clicks.Click, org string) {
	hour, ok := hourOf(c.Time)
	if !ok {
		f.Dropped++
		return
	}
	id := chunkID{org, c.LinkID, hour}
	f.chunks[id] = append(f.chunks[id], c)
	f.Add(c, org)
	var bot byte
	if c.Bot {
		bot = 1
	}
	prof := f.profiles[id]
	if prof == nil {
		prof = profileFold{}
		f.profiles[id] = prof
	}
	base := appendUnit(rollupPrefix(f.key[:0], org, granHour), hour)
	for _, d := range analytics.RollupDims {
		v := analytics.Value(d, c)
		prof[foldedEntry{byte(d), bot, v}]++
		k := append(base, byte(d), 0, bot)
		k = append(k, v...)
		if i, ok := f.keys[string(k)]; ok {
			f.counts[i]++
		} else {
			f.keys[string(k)] = len(f.counts)
			f.counts = append(f.counts, 1)
		}
		base = k[:len(base)]
	}
	f.key = base
}

// write adds the fold to wb: a Set per chunk, a Merge per rollup key and
// per profile, hourly and daily.
func (f *fold) write(wb *pebble.Batch, edge string, seq uint64) error {
	var key, val []byte
	put := func(merge bool) error {
		if merge {
			return wb.Merge(key, val, nil)
		}
		return wb.Set(key, val, nil)
	}
	for id, cs := range f.chunks {
		key, val = chunkKey(key[:0], id.org, id.hour, id.link, edge, seq), appendChunk(val[:0], id.hour, cs)
		if err := put(false); err != nil {
			return err
		}
	}
	days := map[string]uint64{}
	for k, i := range f.keys {
		n := f.counts[i]
		key, val = append(key[:0], k...), binary.AppendUvarint(val[:0], n)
		if err := put(true); err != nil {
			return err
		}
		// r <org> 0 h <hour> … → r <org> 0 d <day> …
		g := strings.IndexByte(k, 0) + 1
		hour := binary.BigEndian.Uint32(key[g+1 : g+5])
		key[g] = granDay
		binary.BigEndian.PutUint32(key[g+1:], hour/24)
		days[string(key)] += n
	}
	for k, n := range days {
		key, val = append(key[:0], k...), binary.AppendUvarint(val[:0], n)
		if err := put(true); err != nil {
			return err
		}
	}
	dayProfiles := map[chunkID]profileFold{}
	for id, p := range f.profiles {
		key, val = profileKey(key[:0], id.org, granHour, id.hour, id.link), p.append(val[:0])
		if err := put(true); err != nil {
			return err
		}
		// The first hour's fold becomes the day's: it is written already.
		day := chunkID{id.org, id.link, id.hour / 24}
		if dp, ok := dayProfiles[day]; !ok {
			dayProfiles[day] = p
		} else {
			for e, n := range p {
				dp[e] += n
			}
		}
	}
	for id, p := range dayProfiles {
		key, val = profileKey(key[:0], id.org, granDay, id.hour, id.link), p.append(val[:0])
		if err := put(true); err != nil {
			return err
		}
	}
	return nil
}
