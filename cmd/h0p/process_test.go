package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run this test binary as the real h0p program, so
// signal handling and exit codes are tested on a real process.
func TestMain(m *testing.M) {
	if os.Getenv("H0P_TEST_AS_MAIN") == "1" {
		os.Args = append([]string{"h0p"}, strings.Fields(os.Getenv("H0P_TEST_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

// freeAddr finds a free loopback port for a process to listen on later. It
// draws from below the kernel's ephemeral range (32768+ here), so the
// outbound connections of a long test cannot take the port before the node
// binds it (which happened with ports from :0), and it never hands out the
// same port twice in one test binary: a port is only probed, not held, so
// two nodes of one cluster could otherwise draw the same one (it happened:
// "bind: address already in use" for c1's API).
func freeAddr(t *testing.T) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 1000 {
		port := 20000 + rand.IntN(12000)
		if handedOut.ports[port] {
			continue
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			handedOut.ports[port] = true
			return addr
		}
	}
	t.Fatal("no free port")
	return ""
}

var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// h0p dev as a process: prints the key line, serves, and exits 0 on SIGTERM
// and on SIGINT after draining.
func TestDevProcessStopsCleanlyOnSignals(t *testing.T) {
	dataDir := t.TempDir()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		adminAddr := freeAddr(t)
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "H0P_TEST_AS_MAIN=1",
			"H0P_TEST_ARGS=dev --data "+dataDir+" --api-addr "+freeAddr(t)+" --edge-addr "+freeAddr(t)+
				" --admin-addr "+adminAddr+" --raft-addr "+freeAddr(t)+" --log-level warn")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 4)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if resp, err := http.Get("http://" + adminAddr + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("never ready")
			}
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Signal(sig)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v: exit %v; stderr:\n%s", sig, err, stderr.String())
		}
		var out []string
		for l := range lines {
			out = append(out, l)
		}
		first := sig == syscall.SIGTERM
		if first && (len(out) != 1 || !strings.HasPrefix(out[0], "H0P_API_KEY=h0p_u_")) {
			t.Errorf("first start stdout %q", out)
		}
		if !first && len(out) != 0 {
			t.Errorf("second start stdout %q, want nothing", out)
		}
	}
}
