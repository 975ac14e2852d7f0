package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/h0p/h0p/control/store/pgtest"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/clustercert"
)

// testCluster runs real h0p processes (this test binary re-executed as h0p,
// see TestMain) on loopback: control nodes sharing a fresh PostgreSQL schema,
// edges, all with certificates from a CA minted for the test. Every node keeps
// its ports and data directory across restarts.
type testCluster struct {
	t      *testing.T
	dir    string
	dbURL  string
	nodes  map[string]*testNode
	order  []string
	api    *http.Client // trusts the cluster CA
	edge   *http.Client // does not follow redirects
	extra  []string     // flags for every node
	keyVal string
}

type testNode struct {
	name    string
	control bool
	raft    string
	// raftAdvertise, when set, is what the node tells peers to dial (a
	// tcpProxy in front of raft).
	raftAdvertise string
	public        string // API (https) or edge (http) address
	admin         string
	flags         []string // for this node only, before the cluster's extra
	cmd           *exec.Cmd
	stdout        *syncBuffer
	stderr        *syncBuffer
	exited        chan struct{}
	restarts      int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestCluster prepares (does not start) controls c1..cN and edges e1..eM.
func newTestCluster(t *testing.T, controls, edges int, extra ...string) *testCluster {
	t.Helper()
	_, dbURL := pgtest.Schema(t)
	c := &testCluster{t: t, dir: t.TempDir(), dbURL: dbURL, nodes: map[string]*testNode{}, extra: extra}
	var specs []string
	for i := 1; i <= controls; i++ {
		specs = append(specs, fmt.Sprintf("c%d", i))
	}
	for i := 1; i <= edges; i++ {
		specs = append(specs, fmt.Sprintf("e%d", i))
	}
	nodes, err := clustercert.ParseNodeList(strings.Join(specs, ","))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := clustercert.MintCA("test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := clustercert.WriteDir(filepath.Join(c.dir, "certs"), ca, nodes, false); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(c.dir, "pepper"), bytes.Repeat([]byte{42}, 32), 0o600)
	for _, n := range nodes {
		c.nodes[n.ID] = &testNode{
			name: n.ID, control: n.Role == clustercert.Control,
			raft: freeAddr(t), public: freeAddr(t), admin: freeAddr(t),
		}
		c.order = append(c.order, n.ID)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM())
	c.api = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	c.edge = &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.killAll)
	return c
}

func (c *testCluster) controls() []string {
	var out []string
	for _, n := range c.order {
		if c.nodes[n].control {
			out = append(out, n)
		}
	}
	return out
}

func (c *testCluster) edges() []string {
	var out []string
	for _, n := range c.order {
		if !c.nodes[n].control {
			out = append(out, n)
		}
	}
	return out
}

func (c *testCluster) apiURL(name string) string { return "https://" + c.nodes[name].public }

func (c *testCluster) joinURLs() string {
	var urls []string
	for _, n := range c.controls() {
		urls = append(urls, c.apiURL(n))
	}
	return strings.Join(urls, ",")
}

func (c *testCluster) args(name string) []string {
	n := c.nodes[name]
	args := []string{"--node-id", name, "--raft-addr", n.raft, "--admin-addr", n.admin,
		"--data", filepath.Join(c.dir, name), "--certs", filepath.Join(c.dir, "certs"), "--log-level", "warn"}
	if n.raftAdvertise != "" {
		args = append(args, "--raft-advertise", n.raftAdvertise)
	}
	if n.control {
		args = append([]string{"control"}, args...)
		args = append(args, "--api-addr", n.public, "--database-url", c.dbURL,
			"--pepper-file", filepath.Join(c.dir, "pepper"),
			// Load tests, not rate-limit tests: one key writes thousands.
			"--rate-per-second", "100000", "--rate-per-minute", "10000000")
		if name == "c1" {
			args = append(args, "--bootstrap")
		} else {
			args = append(args, "--join", c.joinURLs())
		}
	} else {
		args = append([]string{"edge"}, args...)
		args = append(args, "--edge-addr", n.public, "--join", c.joinURLs(), "--fallback-to-default")
	}
	args = append(args, n.flags...)
	return append(args, c.extra...)
}

// start launches node name (again).
func (c *testCluster) start(name string) {
	c.t.Helper()
	n := c.nodes[name]
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "H0P_TEST_AS_MAIN=1", "H0P_TEST_ARGS="+strings.Join(c.args(name), " "))
	n.stdout, n.stderr = &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = n.stdout, n.stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(n.exited) }()
}

func (c *testCluster) startAll() {
	c.t.Helper()
	for _, n := range c.order {
		c.start(n)
	}
	for _, n := range c.order {
		c.waitReady(n, 60*time.Second)
	}
}

// signal sends sig to node name; SIGKILL and SIGTERM also wait for the exit.
func (c *testCluster) signal(name string, sig syscall.Signal) {
	c.t.Helper()
	n := c.nodes[name]
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Signal(sig)
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		select {
		case <-n.exited:
		case <-time.After(shutdownDeadline + 5*time.Second):
			c.t.Fatalf("%s did not exit on %v", name, sig)
		}
		n.cmd = nil
	}
}

func (c *testCluster) killAll() {
	for _, n := range c.nodes {
		if n.cmd != nil {
			n.cmd.Process.Signal(syscall.SIGCONT)
			n.cmd.Process.Kill()
			<-n.exited
			n.cmd = nil
		}
	}
	if c.t.Failed() {
		for _, name := range c.order {
			c.t.Logf("---- %s stderr (last 3000 bytes):\n%s", name, tail(c.nodes[name].stderr, 3000))
		}
	}
}

func tail(b *syncBuffer, n int) string {
	if b == nil {
		return ""
	}
	s := b.String()
	return s[max(0, len(s)-n):]
}

func (c *testCluster) waitReady(name string, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get("http://" + c.nodes[name].admin + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("%s not ready: %s", name, body)
			}
		} else if time.Now().After(deadline) {
			c.t.Fatalf("%s not ready: %v\n%s", name, err, tail(c.nodes[name].stderr, 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// key is the bootstrap Owner key c1 printed.
func (c *testCluster) key() string {
	c.t.Helper()
	if c.keyVal != "" {
		return c.keyVal
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(c.dir, "c1", "bootstrap.key")); err == nil {
			c.keyVal = strings.TrimSpace(string(b))
			return c.keyVal
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("no bootstrap key")
	return ""
}

// status reads a node's /status from its admin address.
func (c *testCluster) status(name string, digest bool) (replication.Status, error) {
	url := "http://" + c.nodes[name].admin + "/status"
	if digest {
		url += "?digest=1"
	}
	resp, err := http.Get(url)
	if err != nil {
		return replication.Status{}, err
	}
	defer resp.Body.Close()
	var st replication.Status
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// leader is the leader as a live control node sees it, or "" when none is
// known or the one named is a node this test stopped (its death not yet
// noticed).
func (c *testCluster) leader() string {
	for _, n := range c.controls() {
		if c.nodes[n].cmd == nil {
			continue
		}
		if st, err := c.status(n, false); err == nil && st.LeaderID != "" && c.nodes[st.LeaderID].cmd != nil {
			return st.LeaderID
		}
	}
	return ""
}

func (c *testCluster) waitLeader(timeout time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if l := c.leader(); l != "" {
			return l
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("no leader")
	return ""
}

type apiResult struct {
	status int
	body   map[string]any
	err    error
}

// call sends an API request to control node name.
func (c *testCluster) call(name, method, path, body string) apiResult {
	req, _ := http.NewRequest(method, c.apiURL(name)+path, strings.NewReader(body))
	req.Header.Set("x-api-key", c.key())
	resp, err := c.api.Do(req)
	if err != nil {
		return apiResult{err: err}
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return apiResult{status: resp.StatusCode, body: m}
}

// resolve asks edge name for slug and returns the status and Location.
func (c *testCluster) resolve(name, slug string) (int, string) {
	resp, err := c.edge.Get("http://" + c.nodes[name].public + "/" + slug)
	if err != nil {
		return 0, err.Error()
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// waitResolves polls edge name until slug redirects to want.
func (c *testCluster) waitResolves(name, slug, want string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if code, loc := c.resolve(name, slug); code == 302 && loc == want {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSameContent waits until every running node's edge store digest equals
// the leader's.
func (c *testCluster) waitSameContent(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		leader := c.leader()
		var want string
		if leader != "" {
			if st, err := c.status(leader, true); err == nil {
				want = st.Digest
			}
		}
		same := want != ""
		var report []string
		for _, n := range c.order {
			if c.nodes[n].cmd == nil {
				continue
			}
			st, err := c.status(n, true)
			if err != nil || st.Digest != want {
				same = false
			}
			report = append(report, fmt.Sprintf("%s applied=%d links=%d digest=%.12s", n, st.AppliedIndex, st.Links, st.Digest))
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("nodes differ from leader %s (%.12s):\n%s", leader, want, strings.Join(report, "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tcpProxy forwards a listening address to a target, and can cut the link:
// placed in front of a node's raft port (the node advertises the proxy), it
// stops that node's raft traffic while the node itself keeps running.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			in.Close()
			continue
		}
		p.conns[in], p.conns[out] = true, true
		p.mu.Unlock()
		go func() { io.Copy(out, in); out.Close(); in.Close() }()
		go func() { io.Copy(in, out); out.Close(); in.Close() }()
	}
}

// setCut cuts (closing every open connection) or heals the link.
func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

// proxyRaft puts a cuttable proxy in front of node name's raft port; call
// before the node first starts.
func (c *testCluster) proxyRaft(name string) *tcpProxy {
	p := newTCPProxy(c.t, c.nodes[name].raft)
	c.nodes[name].raftAdvertise = p.addr()
	return p
}
