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

// rollupDims are the dimensions counted at ingest, each for the org and
// for the click's link. DimLink needs no rollup of its own: the links'
// DimTotal counts are it.
var rollupDims = []analytics.Dimension{analytics.DimTotal, analytics.DimDomain, analytics.DimCountry,
	analytics.DimDevice, analytics.DimBrowser, analytics.DimOS, analytics.DimReferer, analytics.DimTrigger}

// Ingest stores b exactly once (see analytics.Store): its chunks, its
// rollup counts and the edge's new sequence go in one synced Pebble batch.
func (s *Store) Ingest(ctx context.Context, b *clicks.Batch, orgsOf analytics.OrgsOf) (analytics.Ingested, error) {
	if b.Edge == "" || strings.IndexByte(b.Edge, 0) >= 0 {
		return analytics.Ingested{}, fmt.Errorf("ingest: edge id %q", b.Edge)
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

// fold is a batch folded in memory: its clicks grouped into chunks, and
// one count per distinct rollup key.
type fold struct {
	chunks  map[chunkID][]*clicks.Click
	keys    map[string]int // hourly rollup key → index in counts
	counts  []uint64
	links   map[string]*analytics.LinkClicks
	usage   map[[2]string]int64
	stored  int
	dropped int
	key     []byte
}

type chunkID struct {
	org, link string
	hour      uint32
}

func newFold() *fold {
	return &fold{chunks: map[chunkID][]*clicks.Click{}, keys: map[string]int{},
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
	base := appendUnit(rollupPrefix(f.key[:0], org, granHour), hour)
	for _, d := range rollupDims {
		v := analytics.Value(d, c)
		for _, scope := range [2]string{"", c.LinkID} {
			k := append(base, byte(d))
			k = append(k, scope...)
			k = append(k, 0, bot)
			k = append(k, v...)
			if i, ok := f.keys[string(k)]; ok {
				f.counts[i]++
			} else {
				f.keys[string(k)] = len(f.counts)
				f.counts = append(f.counts, 1)
			}
			base = k[:len(base)]
		}
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

// write adds the fold to wb: a Set per chunk, a Merge per hourly and per
// daily rollup key.
func (f *fold) write(wb *pebble.Batch, edge string, seq uint64) error {
	var key, val []byte
	for id, cs := range f.chunks {
		key = chunkKey(key[:0], id.org, id.hour, id.link, edge, seq)
		val = appendChunk(val[:0], id.hour, cs)
		if err := wb.Set(key, val, nil); err != nil {
			return err
		}
	}
	days := map[string]uint64{}
	for k, i := range f.keys {
		n := f.counts[i]
		val = binary.AppendUvarint(val[:0], n)
		if err := wb.Merge([]byte(k), val, nil); err != nil {
			return err
		}
		// r <org> 0 h <hour> … → r <org> 0 d <day> …
		g := strings.IndexByte(k, 0) + 1
		hour := binary.BigEndian.Uint32([]byte(k[g+1 : g+5]))
		key = append(key[:0], k[:g]...)
		key = append(key, granDay)
		key = appendUnit(key, hour/24)
		key = append(key, k[g+5:]...)
		days[string(key)] += n
	}
	for k, n := range days {
		val = binary.AppendUvarint(val[:0], n)
		if err := wb.Merge([]byte(k), val, nil); err != nil {
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
