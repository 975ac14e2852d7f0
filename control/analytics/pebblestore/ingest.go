package pebblestore

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/shared/clicks"
)

// rollupDims are the dimensions counted at ingest, in the org's rollups
// and in each link's profile. DimLink needs none: the profiles' DimTotal
// counts are it.
var rollupDims = []analytics.Dimension{analytics.DimTotal, analytics.DimDomain, analytics.DimCountry,
	analytics.DimDevice, analytics.DimBrowser, analytics.DimOS, analytics.DimReferer, analytics.DimTrigger}

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
	var ids []string
	seen := map[string]bool{}
	for i := range b.Clicks {
		if id := b.Clicks[i].LinkID; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	orgs := map[string]string{}
	if len(ids) > 0 {
		var err error
		if orgs, err = orgsOf(ctx, ids); err != nil {
			return analytics.Ingested{}, fmt.Errorf("ingest: orgs of links: %w", err)
		}
	}
	f := newFold()
	for i := range b.Clicks {
		c := &b.Clicks[i]
		org, ok := orgs[c.LinkID]
		if !ok || !validID(org) || !validID(c.LinkID) {
			f.dropped++
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
	return f.result(), nil
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
	links    map[string]*analytics.LinkClicks
	usage    map[[2]string]int64
	stored   int
	dropped  int
	key      []byte
}

// chunkID names a chunk, and a link's hourly profile.
type chunkID struct {
	org, link string
	hour      uint32
}

func newFold() *fold {
	return &fold{chunks: map[chunkID][]*clicks.Click{}, keys: map[string]int{}, profiles: map[chunkID]profileFold{},
		links: map[string]*analytics.LinkClicks{}, usage: map[[2]string]int64{}}
}

func (f *fold) add(c *clicks.Click, org string) {
	hour, ok := hourOf(c.Time)
	if !ok {
		f.dropped++
		return
	}
	id := chunkID{org, c.LinkID, hour}
	f.chunks[id] = append(f.chunks[id], c)
	f.stored++
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
	for _, d := range rollupDims {
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
	if c.Bot {
		return
	}
	l := f.links[c.LinkID]
	if l == nil {
		l = &analytics.LinkClicks{LinkID: c.LinkID, Org: org}
		f.links[c.LinkID] = l
	}
	l.Clicks++
	if c.Time.After(l.LastClick) {
		l.LastClick = c.Time
	}
	f.usage[[2]string{org, c.Time.UTC().Format("2006-01")}]++
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

func (f *fold) result() analytics.Ingested {
	out := analytics.Ingested{Stored: f.stored, Dropped: f.dropped}
	for _, l := range f.links {
		out.Links = append(out.Links, *l)
	}
	slices.SortFunc(out.Links, func(a, b analytics.LinkClicks) int { return strings.Compare(a.LinkID, b.LinkID) })
	for k, n := range f.usage {
		out.Usage = append(out.Usage, analytics.Usage{Org: k[0], Period: k[1], Clicks: n})
	}
	slices.SortFunc(out.Usage, func(a, b analytics.Usage) int {
		return cmp.Or(strings.Compare(a.Org, b.Org), strings.Compare(a.Period, b.Period))
	})
	return out
}
