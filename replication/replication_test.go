package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"

	"github.com/h0p/h0p/shared/kv"
)

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func mustOpenStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := OpenStore(dir, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// apply feeds one command to the FSM as raft would, at index idx.
func apply(t *testing.T, f *FSM, idx uint64, c kv.Command) any {
	t.Helper()
	return f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: c.Encode()})
}

func mustResolve(t *testing.T, s *Store, host, slug string) (kv.Link, bool) {
	t.Helper()
	l, ok, err := s.Link([]byte(host), []byte(slug))
	if err != nil {
		t.Fatal(err)
	}
	return l, ok
}

func link(id, slug, url string, version uint64) kv.Link {
	return kv.Link{ID: id, OrgID: "org_1", Domain: "h0p.link", Slug: slug, URL: url, Version: version}
}

func TestFSMApplyIsIdempotentAndVersioned(t *testing.T) {
	s := mustOpenStore(t, t.TempDir())
	f := &FSM{store: s, logger: testLogger()}

	apply(t, f, 1, kv.PutLink(link("link_a", "abc", "https://one.example", 1)))
	if l, ok := mustResolve(t, s, "h0p.link", "abc"); !ok || l.URL != "https://one.example" {
		t.Fatalf("after put: %+v %v", l, ok)
	}
	// Replay of index 1 with different content must be ignored: index check.
	apply(t, f, 1, kv.PutLink(link("link_a", "abc", "https://replayed.example", 9)))
	if l, _ := mustResolve(t, s, "h0p.link", "abc"); l.URL != "https://one.example" {
		t.Fatalf("replayed index changed state: %+v", l)
	}
	// Slug change at v2 moves the link.
	apply(t, f, 2, kv.PutLink(link("link_a", "xyz", "https://two.example", 2)))
	if n, _ := s.LinkCount(); n != 1 {
		t.Errorf("link count %d after a rename, want 1", n)
	}
	if _, ok := mustResolve(t, s, "h0p.link", "abc"); ok {
		t.Fatal("old slug still resolves after rename")
	}
	// A late v1 (outbox relay re-applying) must not win over v2.
	apply(t, f, 3, kv.PutLink(link("link_a", "abc", "https://one.example", 1)))
	if _, ok := mustResolve(t, s, "h0p.link", "abc"); ok {
		t.Fatal("stale version resurrected old slug")
	}
	// Delete at v3, then a late v2 put: stays deleted.
	apply(t, f, 4, kv.DeleteLink("link_a", 3))
	apply(t, f, 5, kv.PutLink(link("link_a", "xyz", "https://two.example", 2)))
	if _, ok := mustResolve(t, s, "h0p.link", "xyz"); ok {
		t.Fatal("late put resurrected a deleted link")
	}
	if got := s.AppliedIndex(); got != 5 {
		t.Errorf("applied index %d, want 5", got)
	}
	if n, _ := s.LinkCount(); n != 0 {
		t.Errorf("link count %d after the only link was deleted, want 0", n)
	}
}

// The first salt applied for a day stays; salts of days before yesterday go.
func TestFSMSaltFirstWinsAndOldOnesGo(t *testing.T) {
	s := mustOpenStore(t, t.TempDir())
	f := &FSM{store: s, logger: testLogger()}
	salt := func(day int64, b byte) kv.Salt {
		v := kv.Salt{Day: day}
		v.Value[0] = b
		return v
	}
	apply(t, f, 1, kv.PutSalt(salt(100, 1)))
	apply(t, f, 2, kv.PutSalt(salt(100, 2))) // from a leader that did not see the first
	apply(t, f, 3, kv.PutSalt(salt(101, 3)))
	if v, ok, err := s.Salt(100); err != nil || !ok || v[0] != 1 {
		t.Fatalf("day 100: %v %v %v, want the first salt", v[0], ok, err)
	}
	apply(t, f, 4, kv.PutSalt(salt(102, 4)))
	for day, want := range map[int64]bool{99: false, 100: false, 101: true, 102: true} {
		if _, ok, err := s.Salt(day); err != nil || ok != want {
			t.Errorf("day %d present %v (%v), want %v", day, ok, err, want)
		}
	}
}

// An ACME answer is in the store from its put to its delete.
func TestFSMChallenge(t *testing.T) {
	s := mustOpenStore(t, t.TempDir())
	f := &FSM{store: s, logger: testLogger()}
	apply(t, f, 1, kv.PutChallenge(kv.Challenge{Token: "tok-1", KeyAuth: "tok-1.thumb"}))
	if v, ok, err := s.Challenge("tok-1"); err != nil || !ok || v != "tok-1.thumb" {
		t.Fatalf("after put: %q %v %v", v, ok, err)
	}
	apply(t, f, 2, kv.DeleteChallenge("tok-1"))
	if _, ok, err := s.Challenge("tok-1"); err != nil || ok {
		t.Fatalf("after delete: present %v (%v)", ok, err)
	}
}

// A certificate's later version wins whatever the order it is applied in.
func TestFSMCertificateLaterVersionWins(t *testing.T) {
	s := mustOpenStore(t, t.TempDir())
	f := &FSM{store: s, logger: testLogger()}
	cert := func(v uint64) kv.Certificate {
		return kv.Certificate{Host: "links.example.test", ChainPEM: []byte{byte(v)}, SealedKey: []byte{1}, Version: v}
	}
	apply(t, f, 1, kv.PutCertificate(cert(2)))
	apply(t, f, 2, kv.PutCertificate(cert(1)))
	if c, ok, err := s.Certificate("links.example.test"); err != nil || !ok || c.Version != 2 {
		t.Fatalf("after a late v1: %+v %v %v", c, ok, err)
	}
	apply(t, f, 3, kv.PutCertificate(cert(3)))
	if c, _, _ := s.Certificate("links.example.test"); c.Version != 3 {
		t.Fatalf("v3 did not replace v2: %+v", c)
	}
	apply(t, f, 4, kv.DeleteCertificate("links.example.test"))
	if _, ok, err := s.Certificate("links.example.test"); err != nil || ok {
		t.Fatalf("after delete: present %v (%v)", ok, err)
	}
}

// A domain's failing certificate attempts: kept only while the domain has
// a record, the last put wins, a snapshot carries them to a node that
// restores it, a delete removes them.
func TestFSMCertificateFailure(t *testing.T) {
	const host = "broken.example.test"
	s := mustOpenStore(t, t.TempDir())
	f := &FSM{store: s, logger: testLogger()}
	fail := func(n uint64) kv.CertificateFailure {
		return kv.CertificateFailure{Host: host, Failures: n, Message: "refused", At: 1_800_000_000, Next: 1_800_000_000 + int64(n)*600}
	}
	apply(t, f, 1, kv.PutCertificateFailure(fail(1)))
	if _, ok, err := s.CertificateFailure(host); err != nil || ok {
		t.Fatalf("a failure of a host without a domain record was kept (%v)", err)
	}
	apply(t, f, 2, kv.Command{Ops: []kv.Op{{Type: kv.OpPutDomain, Domain: &kv.Domain{Host: host, Version: 1}}}})
	apply(t, f, 3, kv.PutCertificateFailure(fail(1)))
	apply(t, f, 4, kv.PutCertificateFailure(fail(2)))
	if got, ok, err := s.CertificateFailure(host); err != nil || !ok || got != fail(2) {
		t.Fatalf("after two puts: %+v %v %v, want %+v", got, ok, err, fail(2))
	}
	if _, ok, err := s.CertificateFailure("other.example.test"); err != nil || ok {
		t.Fatalf("a host never failed: present %v (%v)", ok, err)
	}

	snap, _ := f.Snapshot()
	var buf bytes.Buffer
	if err := snap.(*fsmSnapshot).write(&buf); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	dst := mustOpenStore(t, t.TempDir())
	if err := (&FSM{store: dst, logger: testLogger()}).Restore(io.NopCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := dst.CertificateFailure(host); err != nil || !ok || got != fail(2) {
		t.Fatalf("restored: %+v %v %v, want %+v", got, ok, err, fail(2))
	}

	apply(t, f, 5, kv.DeleteCertificateFailure(host))
	if _, ok, err := s.CertificateFailure(host); err != nil || ok {
		t.Fatalf("after delete: present %v (%v)", ok, err)
	}
}

// ops concatenates the ops of commands into one command.
func ops(cs ...kv.Command) kv.Command {
	var all kv.Command
	for _, c := range cs {
		all.Ops = append(all.Ops, c.Ops...)
	}
	return all
}

// Later ops of one command see what earlier ops of it wrote: the FSM reads
// state rows before applying, so it must carry them through the command.
func TestFSMOpsOfOneCommandSeeEachOther(t *testing.T) {
	s := mustOpenStore(t, t.TempDir())
	f := &FSM{store: s, logger: testLogger()}
	apply(t, f, 1, kv.PutLink(link("link_old", "kept", "https://kept.example", 1)))
	apply(t, f, 2, ops(
		kv.PutLink(link("link_a", "abc", "https://one.example", 1)),
		kv.PutLink(link("link_a", "xyz", "https://two.example", 2)), // renamed in the same entry
		kv.PutLink(link("link_b", "abc", "https://b.example", 1)),   // takes the freed slug
		kv.PutLink(link("link_a", "abc", "https://stale.example", 1)),
		kv.PutLink(link("link_c", "gone", "https://c.example", 1)),
		kv.DeleteLink("link_c", 2),
		kv.PutLink(link("link_c", "gone", "https://c.example", 1)), // late: stays deleted
		kv.DeleteLink("link_old", 2),
	))
	want := map[string]string{"xyz": "https://two.example", "abc": "https://b.example"}
	for slug, url := range want {
		if l, ok := mustResolve(t, s, "h0p.link", slug); !ok || l.URL != url {
			t.Errorf("%s → %+v %v, want %s", slug, l, ok, url)
		}
	}
	for _, slug := range []string{"gone", "kept"} {
		if _, ok := mustResolve(t, s, "h0p.link", slug); ok {
			t.Errorf("%s still resolves", slug)
		}
	}
	if n, _ := s.LinkCount(); n != 2 {
		t.Errorf("link count %d, want 2 (link_a, link_b)", n)
	}
	// Deleting link_a must not take link_b's slug with it.
	apply(t, f, 3, kv.DeleteLink("link_a", 3))
	if l, ok := mustResolve(t, s, "h0p.link", "abc"); !ok || l.ID != "link_b" {
		t.Errorf("abc after deleting link_a: %+v %v", l, ok)
	}
	if n, _ := s.LinkCount(); n != 1 {
		t.Errorf("link count %d, want 1", n)
	}
}

func TestFSMBadEntryIsSkippedAtomically(t *testing.T) {
	s := mustOpenStore(t, t.TempDir())
	f := &FSM{store: s, logger: testLogger()}
	// The first op is fine, the second is garbage: nothing may be written.
	good := kv.PutLink(link("link_a", "abc", "https://one.example", 1)).Encode()
	bad := append(good[:len(good):len(good)], 0xff)
	res := f.Apply(&raft.Log{Index: 7, Type: raft.LogCommand, Data: bad})
	if _, ok := res.(*ApplyError); !ok {
		t.Fatalf("result %v, want *ApplyError", res)
	}
	if _, ok := mustResolve(t, s, "h0p.link", "abc"); ok {
		t.Fatal("half of a bad entry was applied")
	}
	if got := s.AppliedIndex(); got != 7 {
		t.Errorf("applied index %d, want 7", got)
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	src := mustOpenStore(t, t.TempDir())
	f := &FSM{store: src, logger: testLogger()}
	for i := range 100 {
		id := "link_" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		apply(t, f, uint64(i+1), kv.PutLink(link(id, id[5:], "https://x.example/"+id, 1)))
	}
	apply(t, f, 101, kv.DeleteLink("link_aa", 2))
	snap, _ := f.Snapshot()
	countAtSnapshot, _ := src.LinkCount()
	if countAtSnapshot != 99 {
		t.Errorf("link count %d, want 99", countAtSnapshot)
	}
	// Applies continue while the snapshot is persisted; it must not see them.
	apply(t, f, 102, kv.PutLink(link("link_new", "new", "https://new.example", 1)))
	var buf bytes.Buffer
	if err := snap.(*fsmSnapshot).write(&buf); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	dst := mustOpenStore(t, t.TempDir())
	g := &FSM{store: dst, logger: testLogger()}
	apply(t, g, 1, kv.PutLink(link("link_stale", "stale", "https://stale.example", 1)))
	if err := g.Restore(io.NopCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := dst.AppliedIndex(); got != 101 {
		t.Errorf("restored applied index %d, want 101", got)
	}
	if _, ok := mustResolve(t, dst, "h0p.link", "stale"); ok {
		t.Error("restore kept a key the snapshot does not have")
	}
	if _, ok := mustResolve(t, dst, "h0p.link", "new"); ok {
		t.Error("snapshot saw an apply made after it was taken")
	}
	src.db.Delete([]byte("l/h0p.link\x00new"), pebble.Sync)
	src.db.Delete(kv.LinkStateKey("link_new"), pebble.Sync)
	src.db.Set(kv.AppliedIndexKey, []byte{0, 0, 0, 0, 0, 0, 0, 101}, pebble.Sync)
	src.db.Set(kv.LinkCountKey, []byte{0, 0, 0, 0, 0, 0, 0, byte(countAtSnapshot)}, pebble.Sync)
	if d := diffStores(t, src, dst); d != "" {
		t.Error(d)
	}

	// A corrupted snapshot is refused and changes nothing.
	bad := bytes.Clone(buf.Bytes())
	bad[len(bad)/2] ^= 0x01
	if err := g.Restore(io.NopCloser(bytes.NewReader(bad))); err == nil {
		t.Error("corrupt snapshot restored")
	}
	if d := diffStores(t, src, dst); d != "" {
		t.Errorf("failed restore changed the store: %s", d)
	}
}

// diffStores compares two stores key by key.
func diffStores(t *testing.T, a, b *Store) string {
	t.Helper()
	ia, _ := a.db.NewIter(nil)
	defer ia.Close()
	ib, _ := b.db.NewIter(nil)
	defer ib.Close()
	va, vb := ia.First(), ib.First()
	for ; va && vb; va, vb = ia.Next(), ib.Next() {
		if !bytes.Equal(ia.Key(), ib.Key()) || !bytes.Equal(ia.Value(), ib.Value()) {
			return "stores differ at " + string(ia.Key()) + " / " + string(ib.Key())
		}
	}
	if va != vb {
		return "stores have different key counts"
	}
	return ""
}

func TestLogStore(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir, pebbleOptions(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for i := uint64(1); i <= 10; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 2, Type: raft.LogCommand, Data: []byte{byte(i)}, AppendedAt: time.Unix(100, 5)})
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = OpenLogStore(dir, pebbleOptions(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if first != 4 || last != 10 {
		t.Errorf("bounds %d..%d, want 4..10", first, last)
	}
	var l raft.Log
	if err := s.GetLog(5, &l); err != nil {
		t.Fatal(err)
	}
	if l.Index != 5 || l.Term != 2 || l.Type != raft.LogCommand || !bytes.Equal(l.Data, []byte{5}) || !l.AppendedAt.Equal(time.Unix(100, 5)) {
		t.Errorf("log 5 = %+v", l)
	}
	if err := s.GetLog(2, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Errorf("deleted log: %v, want ErrLogNotFound", err)
	}
	if v, _ := s.GetUint64([]byte("CurrentTerm")); v != 2 {
		t.Errorf("CurrentTerm %d, want 2", v)
	}
	if v, err := s.Get([]byte("missing")); err != nil || len(v) != 0 {
		t.Errorf("missing key: %q %v", v, err)
	}
}

func mustOpenNode(t *testing.T, dir, addr string, store *Store) *Node {
	t.Helper()
	n, err := Open(Config{
		NodeID: "n1", RaftAddr: addr, Dir: dir, Voter: true, Bootstrap: true,
		Logger: testLogger(), HeartbeatTimeout: 200 * time.Millisecond,
	}, store)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// A single voter over real TCP: applies commit and reach the store, and a
// restart on the same directory (on a new port, as tests get) keeps
// everything and applies nothing twice.
func TestSingleNodeApplyAndRestart(t *testing.T) {
	dir := t.TempDir()
	store, err := OpenStore(filepath.Join(dir, "edge"), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	n := mustOpenNode(t, dir, "127.0.0.1:0", store)
	ctx := context.Background()
	for i := range 20 {
		slug := string(rune('a' + i))
		if _, err := n.Apply(ctx, kv.PutLink(link("link_"+slug, slug, "https://x.example/"+slug, 1)).Encode()); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Apply(ctx, kv.DeleteLink("link_a", 2).Encode()); err != nil {
		t.Fatal(err)
	}
	applied := store.AppliedIndex()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	store.Close()

	store = mustOpenStore(t, filepath.Join(dir, "edge"))
	if store.AppliedIndex() != applied {
		t.Fatalf("applied index after reopen %d, want %d", store.AppliedIndex(), applied)
	}
	n = mustOpenNode(t, dir, "127.0.0.1:0", store)
	defer n.Close()
	if _, err := n.Apply(ctx, kv.PutLink(link("link_z2", "z2", "https://x.example/z2", 1)).Encode()); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustResolve(t, store, "h0p.link", "a"); ok {
		t.Error("deleted link back after restart")
	}
	if l, ok := mustResolve(t, store, "h0p.link", "b"); !ok || l.URL != "https://x.example/b" {
		t.Errorf("link b after restart: %+v %v", l, ok)
	}
	if _, ok := mustResolve(t, store, "h0p.link", "z2"); !ok {
		t.Error("apply after restart did not land")
	}
}

// A node re-joining with the same id or the same address replaces its old
// entry; an identical join changes nothing.
func TestAddMemberReplacesByIDOrAddress(t *testing.T) {
	dir := t.TempDir()
	store := mustOpenStore(t, filepath.Join(dir, "edge"))
	n := mustOpenNode(t, dir, "127.0.0.1:0", store)
	defer n.Close()
	members := func() map[string]Server {
		t.Helper()
		servers, err := n.Servers()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]Server{}
		for _, s := range servers {
			m[s.ID] = s
		}
		return m
	}
	// Non-voters that never connect do not disturb the single voter.
	if err := n.AddMember("e1", "127.0.0.1:1", false); err != nil {
		t.Fatal(err)
	}
	if err := n.AddMember("e1", "127.0.0.1:1", false); err != nil {
		t.Fatal(err)
	}
	if err := n.AddMember("e1", "127.0.0.1:2", false); err != nil { // same id, new address
		t.Fatal(err)
	}
	if m := members(); len(m) != 2 || m["e1"].Address != "127.0.0.1:2" || m["e1"].Voter {
		t.Fatalf("after re-join by id: %+v", m)
	}
	if err := n.AddMember("e2", "127.0.0.1:2", false); err != nil { // same address, new id
		t.Fatal(err)
	}
	if m := members(); len(m) != 2 || m["e2"].Address != "127.0.0.1:2" {
		t.Fatalf("after re-join by address: %+v", m)
	}
	if err := n.AddMember("x", n.Addr(), true); err == nil {
		t.Error("a join at the leader's own address replaced the leader")
	}
}

// The block cache must keep blocks: Pebble charges its memtables to it, and
// at its default size that left nothing for blocks (every read went to the
// files). Repeated reads of a small store are served from the cache.
func TestStoreBlockCacheHoldsBlocks(t *testing.T) {
	s := mustOpenStore(t, t.TempDir())
	f := &FSM{store: s, logger: testLogger()}
	// Enough writes for Pebble's memtables to reach their full size.
	const n = 40000
	for b := range n / 1000 {
		var cmd kv.Command
		for i := b * 1000; i < (b+1)*1000; i++ {
			cmd.Ops = append(cmd.Ops, kv.PutLink(link(fmt.Sprintf("link_%05d", i), fmt.Sprintf("s%05d", i),
				"https://example.com/landing/page?utm_source=test&item=12345", 1)).Ops...)
		}
		apply(t, f, uint64(b+1), cmd)
	}
	if err := s.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := s.db.Metrics().BlockCache
	for range 2 {
		for i := 0; i < n; i += 4 {
			if _, ok := mustResolve(t, s, "h0p.link", fmt.Sprintf("s%05d", i)); !ok {
				t.Fatalf("s%05d not found", i)
			}
		}
	}
	after := s.db.Metrics().BlockCache
	if hits, misses := after.Hits-before.Hits, after.Misses-before.Misses; hits < 5*misses {
		t.Errorf("block cache: %d hits, %d misses over %d reads", hits, misses, n/2)
	}
}
