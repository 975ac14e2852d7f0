package edge

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/h0p/h0p/shared/kv"
)

func tableKey(slug string) []byte { return kv.LinkKey("h0p.test", slug) }

func plainRecord(slug, url string) []byte {
	return kv.AppendLink(nil, &kv.Link{ID: "link_" + slug, Domain: "h0p.test", Slug: slug, URL: url, Version: 1})
}

// expectAnswer checks the table's answer for slug against the model (url ""
// means absent).
func expectAnswer(t *testing.T, tab *answerTable, slug, url string) {
	t.Helper()
	var e cached
	ok := tab.get(tableKey(slug), &e)
	switch {
	case url == "" && ok:
		t.Fatalf("%s: answer %q, want none", slug, e.location)
	case url == "":
	case !ok:
		t.Fatalf("%s: no answer, want %q", slug, url)
	// status 0: the link set none; resolve gives it its domain's (withDomain).
	case e.location != url || e.id != "link_"+slug || e.domain != "h0p.test" || e.status != 0 || !e.plain:
		t.Fatalf("%s: answer %+v, want %q", slug, e, url)
	}
}

// Random puts, replacements and deletes agree with a map, and the chunk
// memory stays within about twice the live entries (compaction).
func TestAnswerTableFollowsChanges(t *testing.T) {
	tab := newAnswerTable(1 << 30)
	model := map[string]string{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200_000 {
		slug := fmt.Sprintf("s%d", rng.IntN(5_000))
		var value []byte
		if rng.IntN(4) > 0 {
			model[slug] = fmt.Sprintf("https://example.com/%d/%s", i, slug)
			value = plainRecord(slug, model[slug])
		} else {
			delete(model, slug)
		}
		tab.update([][]byte{tableKey(slug)}, [][]byte{value})
	}
	for i := range 5_000 {
		slug := fmt.Sprintf("s%d", i)
		expectAnswer(t, tab, slug, model[slug])
	}
	if got := tab.count.Load(); got != int64(len(model)) {
		t.Fatalf("count %d, want %d", got, len(model))
	}
	live := 0
	for i := range tab.shards {
		sh := &tab.shards[i]
		live += sh.live
		if garbage := sh.used - sh.live; garbage > chunkSize && garbage > sh.live {
			t.Fatalf("shard %d: %d bytes of garbage for %d live", i, garbage, sh.live)
		}
	}
	if b := tab.bytes.Load(); b > int64(2*live+2*answerShards*chunkSize) {
		t.Fatalf("%d chunk bytes for %d live", b, live)
	}
}

// A link that stops being plain, or whose record cannot be read, leaves the
// table; so does an update the full table cannot take: the table never
// answers with an older answer.
func TestAnswerTableNeverKeepsAnOldAnswer(t *testing.T) {
	tab := newAnswerTable(answerShards * chunkSize)
	tab.update([][]byte{tableKey("a")}, [][]byte{plainRecord("a", "https://a.example/")})
	expectAnswer(t, tab, "a", "https://a.example/")

	withPassword := kv.AppendLink(nil, &kv.Link{ID: "link_a", Domain: "h0p.test", Slug: "a", URL: "https://a.example/", PasswordHash: "x", Version: 2})
	tab.update([][]byte{tableKey("a")}, [][]byte{withPassword})
	expectAnswer(t, tab, "a", "")

	tab.update([][]byte{tableKey("a")}, [][]byte{plainRecord("a", "https://a.example/")})
	tab.update([][]byte{tableKey("a")}, [][]byte{[]byte("not a record")})
	expectAnswer(t, tab, "a", "")

	// Fill the table: every shard's one chunk.
	n := 0
	for ; tab.bytes.Load() < tab.limit || n < 100_000; n++ {
		slug := fmt.Sprintf("fill%d", n)
		tab.update([][]byte{tableKey(slug)}, [][]byte{plainRecord(slug, "https://fill.example/"+slug)})
	}
	if tab.bytes.Load() > tab.limit {
		t.Fatalf("%d bytes over the limit of %d", tab.bytes.Load(), tab.limit)
	}
	held := ""
	for i := range n {
		slug := fmt.Sprintf("fill%d", i)
		var e cached
		if tab.get(tableKey(slug), &e) {
			held = slug
			break
		}
	}
	if held == "" {
		t.Fatal("the full table holds none of the links")
	}
	long := "https://fill.example/" + string(make([]byte, 4000))
	for range 20 { // more than any chunk's free room
		tab.update([][]byte{tableKey(held)}, [][]byte{plainRecord(held, long)})
	}
	var e cached
	if tab.get(tableKey(held), &e) && e.location != long {
		t.Fatalf("%s: still answers %q after it changed", held, e.location)
	}
}

// The table answers what compile decided, every flag of it.
func TestAnswerTableKeepsTheAnswer(t *testing.T) {
	tab := newAnswerTable(1 << 30)
	for i := range 16 {
		l := kv.Link{ID: fmt.Sprintf("link_%d", i), Domain: "h0p.test", Slug: fmt.Sprint(i), URL: "https://a.example/",
			Indexable: i&1 != 0, NoForwardQuery: i&2 != 0, DoNotTrack: i&4 != 0, Version: 1}
		if i&8 != 0 {
			l.Status = 301
		}
		want := *compile(&l)
		tab.update([][]byte{tableKey(l.Slug)}, [][]byte{kv.AppendLink(nil, &l)})
		var got cached
		if !tab.get(tableKey(l.Slug), &got) || got != want {
			t.Errorf("%+v: table answers %+v, want %+v", l, got, want)
		}
	}
}

// load takes what it lists, except the keys the store changed while it ran:
// for those the change (already in the table) wins over the load's older
// view. A reset stops a load.
func TestAnswerTableLoadLeavesChangedKeys(t *testing.T) {
	tab := newAnswerTable(1 << 30)
	each := func(ctx context.Context, fn func(key, value []byte) bool) error {
		// The listing is a view from before these changes.
		tab.update([][]byte{tableKey("b")}, [][]byte{plainRecord("b", "https://new.example/b")})
		tab.update([][]byte{tableKey("c")}, [][]byte{nil})
		for _, slug := range []string{"a", "b", "big", "c", "d"} {
			url := "https://old.example/" + slug
			if slug == "big" { // no entry can hold it: skipped, the load goes on
				url += "?" + strings.Repeat("x", chunkSize)
			}
			if !fn(tableKey(slug), plainRecord(slug, url)) {
				break
			}
		}
		return nil
	}
	if full, err := tab.load(context.Background(), each); full || err != nil {
		t.Fatal(full, err)
	}
	expectAnswer(t, tab, "a", "https://old.example/a")
	expectAnswer(t, tab, "b", "https://new.example/b")
	expectAnswer(t, tab, "c", "")
	expectAnswer(t, tab, "d", "https://old.example/d")
	expectAnswer(t, tab, "big", "")
	for i := range tab.shards {
		if tab.shards[i].dirty != nil {
			t.Fatal("changes still tracked after the load")
		}
	}

	tab.reset()
	expectAnswer(t, tab, "a", "")
	if tab.count.Load() != 0 || tab.bytes.Load() != 0 {
		t.Fatalf("after reset: %d entries, %d bytes", tab.count.Load(), tab.bytes.Load())
	}
	listed := 0
	stopped := func(ctx context.Context, fn func(key, value []byte) bool) error {
		for _, slug := range []string{"a", "b", "c"} {
			listed++
			if slug == "b" {
				tab.reset() // a snapshot restore during the load
			}
			if !fn(tableKey(slug), plainRecord(slug, "https://old.example/"+slug)) {
				break
			}
		}
		return nil
	}
	if _, err := tab.load(context.Background(), stopped); err != nil {
		t.Fatal(err)
	}
	if listed != 2 || tab.count.Load() != 0 {
		t.Fatalf("load went on after a reset: listed %d, %d entries", listed, tab.count.Load())
	}
}

// Readers, the FSM's updates and a load at once (run with -race): every
// answer read is one the key had.
func TestAnswerTableConcurrentUse(t *testing.T) {
	tab := newAnswerTable(1 << 30)
	const keys = 2_000
	url := func(slug string, v int) string { return fmt.Sprintf("https://example.com/%s/v%d", slug, v) }
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for r := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for ctx.Err() == nil {
				slug := fmt.Sprintf("k%d", rng.IntN(keys))
				var e cached
				if tab.get(tableKey(slug), &e) {
					var v int
					if _, err := fmt.Sscanf(e.location, "https://example.com/"+slug+"/v%d", &v); err != nil {
						t.Errorf("%s: answer %q", slug, e.location)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		tab.load(ctx, func(ctx context.Context, fn func(key, value []byte) bool) error {
			for i := range keys {
				slug := fmt.Sprintf("k%d", i)
				if !fn(tableKey(slug), plainRecord(slug, url(slug, 0))) {
					break
				}
			}
			return nil
		})
	})
	rng := rand.New(rand.NewPCG(7, 7))
	for v := 1; v <= 20_000; v++ {
		slug := fmt.Sprintf("k%d", rng.IntN(keys))
		tab.update([][]byte{tableKey(slug)}, [][]byte{plainRecord(slug, url(slug, v))})
	}
	cancel()
	wg.Wait()
}

// The table's lookup at the sizes of bench-edge, keys in random order (as
// wrk asks them): the cost of its memory misses.
func BenchmarkAnswerTableGet(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			tab := newAnswerTable(1 << 30)
			keys := make([][]byte, n)
			for i := range keys {
				slug := fmt.Sprintf("k%07d", i)
				keys[i] = tableKey(slug)
				tab.update([][]byte{keys[i]}, [][]byte{plainRecord(slug, "https://example.com/landing/"+slug+"?utm_source=bench")})
			}
			rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			var e cached
			b.ResetTimer()
			for i := range b.N {
				if !tab.get(keys[i%n], &e) {
					b.Fatal("missing")
				}
			}
		})
	}
}
