package replication

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/h0p/h0p/shared/clustercert"
	"github.com/h0p/h0p/shared/kv"
)

// mustWriteCerts mints a cluster CA and certificates for nodes ("c1,e1")
// into a temporary directory, as h0p admin certs would.
func mustWriteCerts(t *testing.T, nodes string) string {
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
	return dir
}

// tlsPair is what a node hands the transport.
type tlsPair struct{ server, client *tls.Config }

func mustLoadTLS(t *testing.T, dir, id string) tlsPair {
	t.Helper()
	b, err := clustercert.Load(dir, id)
	if err != nil {
		t.Fatal(err)
	}
	return tlsPair{b.ServerConfig(), b.ClientConfig()}
}

// mustImpostorTLS is a control node whose certificate another CA signed. It
// trusts the real cluster CA (ca.pem is not secret), so only its own
// certificate gives it away. clustercert.Load refuses such a bundle, so the
// configs are built by hand, the same way Bundle builds them.
func mustImpostorTLS(t *testing.T, clusterDir, id string) tlsPair {
	t.Helper()
	rogue, err := clustercert.MintCA("rogue", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := rogue.MintNode(id, clustercert.Control, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(clusterDir, clustercert.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	return tlsPair{
		server: &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: roots},
		client: &tls.Config{
			MinVersion: tls.VersionTLS13, RootCAs: roots,
			// Present the certificate even though the server asks for one
			// from the cluster CA (crypto/tls would otherwise send none).
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		},
	}
}

func mustTLSTransport(t *testing.T, p tlsPair) *raft.NetworkTransport {
	t.Helper()
	tr, err := NewTLSTransport("127.0.0.1:0", "", p.server, p.client, newHclog(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// tlsNode is a raft node built by hand over the TLS transport.
type tlsNode struct {
	raft  *raft.Raft
	trans *raft.NetworkTransport
	store *Store
}

func (n *tlsNode) addr() raft.ServerAddress { return n.trans.LocalAddr() }

// mustStartTLSNode starts raft node id with a Pebble log and edge store in a
// temporary directory. A bootstrap node forms a cluster of itself.
func mustStartTLSNode(t *testing.T, id string, p tlsPair, bootstrap bool) *tlsNode {
	t.Helper()
	dir := t.TempDir()
	logger := testLogger().With("node", id)
	hlog := newHclog(logger)
	store := mustOpenStore(t, filepath.Join(dir, "edge"))
	logs, err := OpenLogStore(filepath.Join(dir, "raft"), pebbleOptions(logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hlog)
	if err != nil {
		t.Fatal(err)
	}
	trans := mustTLSTransport(t, p)

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(id)
	rc.Logger = hlog
	rc.NoLegacyTelemetry = true
	rc.HeartbeatTimeout = 200 * time.Millisecond
	rc.ElectionTimeout = 200 * time.Millisecond
	rc.LeaderLeaseTimeout = 100 * time.Millisecond
	if bootstrap {
		conf := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: trans.LocalAddr(), Suffrage: raft.Voter}}}
		if err := raft.BootstrapCluster(rc, logs, logs, snaps, trans, conf); err != nil {
			t.Fatal(err)
		}
	}
	r, err := raft.NewRaft(rc, NewFSM(store, logger), logs, logs, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	// Registered last, so it runs first: raft stops before its transport,
	// log and store close.
	t.Cleanup(func() { r.Shutdown().Error() })
	return &tlsNode{raft: r, trans: trans, store: store}
}

// testPoll waits until cond holds or fails the test after timeout.
func testPoll(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustStartTLSLeader(t *testing.T, id string, p tlsPair) *tlsNode {
	t.Helper()
	n := mustStartTLSNode(t, id, p, true)
	testPoll(t, id+" to lead", 10*time.Second, func() bool { return n.raft.State() == raft.Leader })
	return n
}

func hasLink(t *testing.T, s *Store, slug string) bool {
	t.Helper()
	_, ok := mustResolve(t, s, "h0p.link", slug)
	return ok
}

// Two control nodes over mutual TLS on loopback: the second joins as a voter
// and an entry applied on the leader reaches its store.
func TestTLSTransportReplicates(t *testing.T) {
	certs := mustWriteCerts(t, "c1,c2")
	c1 := mustStartTLSLeader(t, "c1", mustLoadTLS(t, certs, "c1"))
	c2 := mustStartTLSNode(t, "c2", mustLoadTLS(t, certs, "c2"), false)

	if err := c1.raft.AddVoter("c2", c2.addr(), 0, 10*time.Second).Error(); err != nil {
		t.Fatalf("add voter: %v", err)
	}
	cmd := kv.PutLink(link("link_tls", "tls", "https://tls.example", 1)).Encode()
	if err := c1.raft.Apply(cmd, 10*time.Second).Error(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	testPoll(t, "the link on c2", 10*time.Second, func() bool { return hasLink(t, c2.store, "tls") })
	if l, _ := mustResolve(t, c2.store, "h0p.link", "tls"); l.URL != "https://tls.example" {
		t.Errorf("c2 has %+v", l)
	}
	if _, id := c2.raft.LeaderWithID(); id != "c1" {
		t.Errorf("c2 follows %q, want c1", id)
	}
	f := c1.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	for _, s := range f.Configuration().Servers {
		if s.Suffrage != raft.Voter {
			t.Errorf("%s is %v, want a voter", s.ID, s.Suffrage)
		}
	}
}

// A node whose certificate another CA signed is added to the cluster (as a
// non-voter, so the leader can still commit) next to a real edge. The edge
// gets the entry; the impostor gets nothing, in either direction.
func TestTLSTransportRefusesForeignCA(t *testing.T) {
	certs := mustWriteCerts(t, "c1,e1")
	c1 := mustStartTLSLeader(t, "c1", mustLoadTLS(t, certs, "c1"))
	var failedToX1 atomic.Int64
	c1.raft.RegisterObserver(raft.NewObserver(nil, false, func(o *raft.Observation) bool {
		// The filter sees every observation; counting here needs no channel.
		if f, ok := o.Data.(raft.FailedHeartbeatObservation); ok && f.PeerID == "x1" {
			failedToX1.Add(1)
		}
		return false
	}))
	e1 := mustStartTLSNode(t, "e1", mustLoadTLS(t, certs, "e1"), false)
	x1 := mustStartTLSNode(t, "x1", mustImpostorTLS(t, certs, "x1"), false)

	for _, n := range []struct {
		id   raft.ServerID
		node *tlsNode
	}{{"e1", e1}, {"x1", x1}} {
		if err := c1.raft.AddNonvoter(n.id, n.node.addr(), 0, 10*time.Second).Error(); err != nil {
			t.Fatalf("add non-voter %s: %v", n.id, err)
		}
	}
	cmd := kv.PutLink(link("link_tls", "tls", "https://tls.example", 1)).Encode()
	if err := c1.raft.Apply(cmd, 10*time.Second).Error(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	testPoll(t, "the link on e1", 10*time.Second, func() bool { return hasLink(t, e1.store, "tls") })
	// By now the leader has had every chance to reach x1 too. Wait for more
	// proof that it tried: heartbeats (AppendEntries) to x1 failing after e1
	// had the entry.
	seen := failedToX1.Load()
	testPoll(t, "failed heartbeats to x1", 10*time.Second, func() bool { return failedToX1.Load() >= seen+3 })

	if hasLink(t, x1.store, "tls") || x1.store.AppliedIndex() != 0 {
		t.Errorf("impostor applied entries (applied index %d)", x1.store.AppliedIndex())
	}
	if got := x1.raft.LastIndex(); got != 0 {
		t.Errorf("impostor's log reaches index %d, want 0", got)
	}

	// Leader to impostor: refused by the leader, whose client does not trust
	// x1's server certificate.
	var aeResp raft.AppendEntriesResponse
	err := c1.trans.AppendEntries("x1", x1.addr(), &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("c1"), Addr: []byte(c1.addr())},
		Term:      c1.raft.CurrentTerm(),
	}, &aeResp)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("AppendEntries to the impostor: %v, want x509.UnknownAuthorityError", err)
	}

	// Impostor to leader: a vote request with a far higher term would depose
	// c1 if it got through. c1's server refuses the certificate.
	term := c1.raft.CurrentTerm()
	var rvResp raft.RequestVoteResponse
	err = x1.trans.RequestVote("c1", c1.addr(), &raft.RequestVoteRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("x1"), Addr: []byte(x1.addr())},
		Term:      term + 100,
	}, &rvResp)
	if err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Errorf("RequestVote from the impostor: %v, want an unknown certificate authority alert", err)
	}
	if c1.raft.State() != raft.Leader || c1.raft.CurrentTerm() != term {
		t.Errorf("c1 is %v in term %d, want leader in term %d", c1.raft.State(), c1.raft.CurrentTerm(), term)
	}
}

// Every raft RPC comes from a leader or a candidate, both voters: a control
// node. An edge certificate can answer the leader but cannot speak first.
func TestTLSTransportAcceptsRPCsFromControlOnly(t *testing.T) {
	certs := mustWriteCerts(t, "c1,e1")
	tc := mustTLSTransport(t, mustLoadTLS(t, certs, "c1"))
	te := mustTLSTransport(t, mustLoadTLS(t, certs, "e1"))
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case rpc := <-te.Consumer():
				rpc.Respond(&raft.AppendEntriesResponse{Term: 1, Success: true}, nil)
			case <-done:
				return
			}
		}
	}()

	var aeResp raft.AppendEntriesResponse
	err := tc.AppendEntries("e1", te.LocalAddr(), &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("c1"), Addr: []byte(tc.LocalAddr())},
		Term:      1,
	}, &aeResp)
	if err != nil || !aeResp.Success {
		t.Fatalf("control to edge: %v %+v, want success", err, aeResp)
	}

	var rvResp raft.RequestVoteResponse
	err = te.RequestVote("c1", tc.LocalAddr(), &raft.RequestVoteRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("e1"), Addr: []byte(te.LocalAddr())},
		Term:      5,
	}, &rvResp)
	if err == nil || !strings.Contains(err.Error(), "bad certificate") {
		t.Errorf("RequestVote from an edge: %v, want a bad certificate alert", err)
	}
	// The refusal happened in the handshake, before any RPC could be decoded,
	// so nothing can be queued for c1's raft now or later.
	select {
	case rpc := <-tc.Consumer():
		t.Errorf("c1 received %T from an edge", rpc.Command)
	default:
	}
}

func TestNewTLSTransportAddresses(t *testing.T) {
	p := mustLoadTLS(t, mustWriteCerts(t, "c1"), "c1")
	tests := []struct {
		name, bind, advertise string
		want                  string // LocalAddr; "127.0.0.1:" matches any port
		wantErr               error  // nil: any error when want is ""
	}{
		{name: "bound address", bind: "127.0.0.1:0", want: "127.0.0.1:"},
		{name: "unspecified bind", bind: "0.0.0.0:0", wantErr: errNotAdvertisable},
		{name: "unspecified advertise", bind: "127.0.0.1:0", advertise: "0.0.0.0:7000", wantErr: errNotAdvertisable},
		{name: "unspecified v6 advertise", bind: "127.0.0.1:0", advertise: "[::]:7000", wantErr: errNotAdvertisable},
		{name: "ip advertise", bind: "0.0.0.0:0", advertise: "10.0.0.5:7000", want: "10.0.0.5:7000"},
		{name: "dns advertise kept", bind: "127.0.0.1:0", advertise: "c1.internal:7000", want: "c1.internal:7000"},
		{name: "advertise without port", bind: "127.0.0.1:0", advertise: "c1.internal"},
		{name: "advertise port zero", bind: "127.0.0.1:0", advertise: "10.0.0.5:0"},
		{name: "advertise empty host", bind: "127.0.0.1:0", advertise: ":7000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := NewTLSTransport(tt.bind, tt.advertise, p.server, p.client, newHclog(testLogger()))
			if tt.want == "" {
				if err == nil {
					tr.Close()
					t.Fatal("transport created, want an error")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			if got := string(tr.LocalAddr()); !strings.HasPrefix(got, tt.want) {
				t.Errorf("LocalAddr %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("one-way tls refused", func(t *testing.T) {
		srv := p.server.Clone()
		srv.ClientAuth = tls.VerifyClientCertIfGiven
		if tr, err := NewTLSTransport("127.0.0.1:0", "", srv, p.client, nil); err == nil {
			tr.Close()
			t.Error("transport created with a server config that does not require client certificates")
		}
	})
}

// A peer that accepts TCP but never answers the handshake costs one timeout,
// on either side.
func TestTLSStreamLayerHandshakeTimeouts(t *testing.T) {
	p := mustLoadTLS(t, mustWriteCerts(t, "c1"), "c1")

	t.Run("dial", func(t *testing.T) {
		silent, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		go func() {
			var held []net.Conn // open, never written to
			for {
				c, err := silent.Accept()
				if err != nil {
					for _, c := range held {
						c.Close()
					}
					return
				}
				held = append(held, c)
			}
		}()
		s := &tlsStreamLayer{client: p.client}
		start := time.Now()
		c, err := s.Dial(raft.ServerAddress(silent.Addr().String()), 200*time.Millisecond)
		if err == nil {
			c.Close()
			t.Fatal("dial to a silent peer succeeded")
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("dial took %s with a 200ms timeout", took)
		}
	})

	t.Run("accept", func(t *testing.T) {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", p.server)
		if err != nil {
			t.Fatal(err)
		}
		s := &tlsStreamLayer{ln: ln, timeout: 200 * time.Millisecond}
		defer s.Close()
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		c, err := s.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("read before a handshake succeeded")
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("handshake wait took %s with a 200ms timeout", took)
		}
	})
}
