// Package redistest gives tests Redis: the shared test server named by
// H0P_TEST_REDIS_URL (make test sets it from deploy/test/redis.sh), with a
// key prefix of their own, or a redis-server process of their own that
// they can kill and start again. Without the variable (or the binary),
// tests that ask are skipped, unless H0P_REQUIRE_REDIS=1 (CI sets it),
// which makes that a failure.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// unavailable skips the test, or fails it when H0P_REQUIRE_REDIS=1.
func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("H0P_REQUIRE_REDIS") == "1" {
		t.Fatalf("H0P_REQUIRE_REDIS=1 and %s", why)
	}
	t.Skipf("%s; make test sets it up (deploy/test/redis.sh), H0P_REQUIRE_REDIS=1 makes this a failure", why)
}

// URL is the shared test server's URL.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("H0P_TEST_REDIS_URL")
	if u == "" {
		unavailable(t, "H0P_TEST_REDIS_URL not set")
	}
	return u
}

// Client is a client of the shared test server, closed when the test ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	return NewClient(t, URL(t))
}

// NewClient is a client of url, closed when the test ends.
func NewClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redis URL: %v", err)
	}
	opts.DisableIdentity = true
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// Prefix is a key prefix no other test uses.
func Prefix(t testing.TB) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "h0ptest:" + hex.EncodeToString(b) + ":"
}

// Server is a redis-server process of the test's own, on a loopback port
// that stays the same across Kill and Start, keeping nothing on disk.
type Server struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// StartServer starts a redis-server (the one on PATH) and stops it when the
// test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		unavailable(t, "no redis-server binary (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, port: l.Addr().(*net.TCPAddr).Port}
	l.Close()
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Start starts the server (again) and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir())
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d not answering after 10s", s.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill kills the server (SIGKILL: nothing saved, nothing said to clients)
// and waits for it to exit. A server already killed is left alone.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}
