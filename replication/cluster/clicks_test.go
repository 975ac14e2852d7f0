package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/h0p/h0p/shared/clicks"
	"github.com/h0p/h0p/shared/clustercert"
)

// mustBundles mints a cluster CA and certificates for nodes ("c1,e1") and
// loads them as the nodes would.
func mustBundles(t *testing.T, nodes string) map[string]*clustercert.Bundle {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	ca, err := clustercert.MintCA("h0p test cluster", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	specs, err := clustercert.ParseNodeList(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if err := clustercert.WriteDir(dir, ca, specs, false); err != nil {
		t.Fatal(err)
	}
	out := map[string]*clustercert.Bundle{}
	for _, s := range specs {
		if out[s.ID], err = clustercert.Load(dir, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// mustServeTLS serves h as a control node's API listener does: TLS with
// client certificates verified when given.
func mustServeTLS(t *testing.T, b *clustercert.Bundle, h http.Handler) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = b.ServerConfig()
	srv.TLS.ClientAuth = tls.VerifyClientCertIfGiven
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func clientOf(cfg *tls.Config) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func mustBatch(t *testing.T, edge string, seq uint64) []byte {
	t.Helper()
	b := clicks.Batch{Edge: edge, Seq: seq, Clicks: []clicks.Click{{ID: [16]byte{1}, Time: time.Unix(1_800_000_000, 0).UTC(), LinkID: "link_1", Domain: "h0p.to"}}}
	data, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// ingest records what the handler hands on, answering with err.
type ingest struct {
	mu      sync.Mutex
	batches [][]byte
	err     error
}

func (in *ingest) take(ctx context.Context, batch []byte) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.batches = append(in.batches, bytes.Clone(batch))
	return in.err
}

func (in *ingest) count() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.batches)
}

// Click batches travel over mutual TLS: an edge ships under its own node
// id only, a control node under any; what is refused for good says
// clicks.ErrRejected, what may pass later does not.
func TestShipClicksOverMutualTLS(t *testing.T) {
	nodes := mustBundles(t, "c1,e1,e2")
	in := &ingest{}
	h := &Handler{Logger: slog.New(slog.DiscardHandler), Clicks: in.take}
	url := mustServeTLS(t, nodes["c1"], h)
	noClicks := mustServeTLS(t, nodes["c1"], &Handler{Logger: slog.New(slog.DiscardHandler)})
	noCert := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: nodes["e1"].ClientConfig().RootCAs}

	type result int
	const (
		stored result = iota
		rejected
		retry
	)
	for _, tc := range []struct {
		name   string
		client *tls.Config
		url    string
		batch  []byte
		err    error // the ingest's answer
		want   result
		says   string // in the error, when not stored
	}{
		{"edge ships its own", nodes["e1"].ClientConfig(), url, mustBatch(t, "e1/0a1b", 1), nil, stored, ""},
		{"control ships an edge's", nodes["c1"].ClientConfig(), url, mustBatch(t, "e2/77", 3), nil, stored, ""},
		{"edge ships another's", nodes["e1"].ClientConfig(), url, mustBatch(t, "e2/77", 4), nil, rejected, "400 {\"error\":{\"code\":\"VALIDATION_ERROR\""},
		{"edge id without incarnation", nodes["e1"].ClientConfig(), url, mustBatch(t, "e1", 4), nil, rejected, "400"},
		{"corrupt body", nodes["e1"].ClientConfig(), url, []byte("H0PC not a batch"), nil, rejected, "VALIDATION_ERROR"},
		{"too large", nodes["e1"].ClientConfig(), url, make([]byte, MaxClicksBody+1), nil, rejected, "413"},
		{"ingest cannot decode", nodes["e1"].ClientConfig(), url, mustBatch(t, "e1/0a1b", 2), fmt.Errorf("decode: %w", clicks.ErrCorrupt), rejected, "400"},
		{"ingest fails", nodes["e1"].ClientConfig(), url, mustBatch(t, "e1/0a1b", 2), errors.New("database is down"), retry, "503 {\"error\":{\"code\":\"UNAVAILABLE\""},
		{"no ingest", nodes["e1"].ClientConfig(), noClicks, mustBatch(t, "e1/0a1b", 2), nil, retry, "503 {\"error\":{\"code\":\"UNAVAILABLE\""},
		{"no client certificate", noCert, url, mustBatch(t, "e1/0a1b", 2), nil, retry, "401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in.mu.Lock()
			in.batches, in.err = nil, tc.err
			in.mu.Unlock()
			s := &ClickSender{Client: clientOf(tc.client), URLs: []string{tc.url}}
			err := s.Ship(context.Background(), tc.batch)
			var got result
			switch {
			case err == nil:
				got = stored
			case errors.Is(err, clicks.ErrRejected):
				got = rejected
			default:
				got = retry
			}
			if got != tc.want {
				t.Fatalf("Ship: %v (result %d, want %d)", err, got, tc.want)
			}
			if got != stored && !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			if got == stored && (in.count() != 1 || !bytes.Equal(in.batches[0], tc.batch)) {
				t.Fatalf("ingest got %d batches", in.count())
			}
			if tc.err == nil && got != stored && in.count() != 0 {
				t.Fatalf("a refused batch reached the ingest")
			}
		})
	}
}

// The sender tries the next control node when one fails, and starts with
// the one that answered next time.
func TestClickSenderTriesTheNextNode(t *testing.T) {
	nodes := mustBundles(t, "c1,e1")
	in := &ingest{}
	good := mustServeTLS(t, nodes["c1"], &Handler{Logger: slog.New(slog.DiscardHandler), Clicks: in.take})
	var downCalls atomic.Int64
	down := mustServeTLS(t, nodes["c1"], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		downCalls.Add(1)
		writeError(w, "UNAVAILABLE", "no leader")
	}))
	s := &ClickSender{Client: clientOf(nodes["e1"].ClientConfig()), URLs: []string{down, good}}
	for seq := range uint64(3) {
		if err := s.Ship(context.Background(), mustBatch(t, "e1/01", seq+1)); err != nil {
			t.Fatal(err)
		}
	}
	if in.count() != 3 || downCalls.Load() != 1 {
		t.Fatalf("stored %d, the failing node called %d times (want 3, 1)", in.count(), downCalls.Load())
	}
	all := &ClickSender{Client: clientOf(nodes["e1"].ClientConfig()), URLs: []string{down, down}}
	if err := all.Ship(context.Background(), mustBatch(t, "e1/01", 9)); err == nil || errors.Is(err, clicks.ErrRejected) {
		t.Fatalf("every node down: %v", err)
	}
}

// A body that is not a click batch's media type is refused.
func TestShipClicksNeedsTheMediaType(t *testing.T) {
	nodes := mustBundles(t, "c1,e1")
	url := mustServeTLS(t, nodes["c1"], &Handler{Logger: slog.New(slog.DiscardHandler), Clicks: (&ingest{}).take})
	resp, err := clientOf(nodes["e1"].ClientConfig()).Post(url+"/cluster/v1/clicks", "application/octet-stream", bytes.NewReader(mustBatch(t, "e1/01", 1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
}
