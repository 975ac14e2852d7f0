package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/h0p/h0p/shared/clustercert"
)

// controlNode is h0p control over a size's control node directory: the
// raft group's single voter, serving the API and the cluster path the
// shipping edge posts its clicks to, in a process of its own under
// SCHED_IDLE: in the pinned layout on the load's CPUs, never the server's
// (bench/README.md says why).
type controlNode struct {
	cmd          *exec.Cmd
	api, admin   string
	client       *http.Client // for the API: HTTPS with the node's certificate
	startSeconds float64      // until ready (raft leader, API up)
}

// startControl runs h0p (the binary at path) as d's control node, whose
// short links and refused destinations are the edge's at edgeAddr, on cpus
// (taskset's list; "": any) under SCHED_IDLE, and waits until it is ready.
func startControl(path string, d data, edgeAddr, cpus string) (*controlNode, error) {
	_, edgePort, err := net.SplitHostPort(edgeAddr)
	if err != nil {
		return nil, err
	}
	client, err := caClient(filepath.Join(d.dir, certsDir))
	if err != nil {
		return nil, err
	}
	c := &controlNode{api: freeAddr(), admin: freeAddr(), client: client}
	// --bootstrap is a no-op on the raft state writeData left; the store
	// has its org, so control creates none.
	args := []string{"--idle", "0"}
	if cpus != "" {
		args = append(args, "taskset", "-c", cpus)
	}
	c.cmd = exec.Command("chrt", append(args, path, "control",
		"--node-id", controlNodeID, "--bootstrap", "--raft-addr", d.raftAddr, "--raft-heartbeat-timeout", "500ms",
		"--api-addr", c.api, "--admin-addr", c.admin, "--data", filepath.Join(d.dir, controlNodeDir),
		"--certs", filepath.Join(d.dir, certsDir), "--default-domain", domain,
		"--short-link-scheme", "http", "--short-link-port", edgePort, "--edge-addrs", edgeAddr, "--log-level", "warn")...)
	c.cmd.Env = withoutH0PVariables(os.Environ())
	c.cmd.Stdout, c.cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	if err := waitReady(c.admin, 120*time.Second); err != nil {
		return c, fmt.Errorf("control: %w", err)
	}
	c.startSeconds = time.Since(start).Seconds()
	return c, nil
}

// withoutH0PVariables is env less the H0P_* variables, which h0p reads
// for the flags it is not given.
func withoutH0PVariables(env []string) []string {
	var out []string
	for _, v := range env {
		if !strings.HasPrefix(v, "H0P_") {
			out = append(out, v)
		}
	}
	return out
}

// caClient is an HTTP client that trusts the cluster CA in dir and
// presents no certificate: an API client's.
func caClient(dir string) (*http.Client, error) {
	ca, err := os.ReadFile(filepath.Join(dir, clustercert.CAFile))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return nil, errors.New("no certificate in " + clustercert.CAFile)
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: roots},
	}}, nil
}

// waitReady polls admin's /readyz until it answers 200.
func waitReady(admin string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /readyz: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// counts asks control's API for the clicks of the bench org in the click
// store and in the links' counters (its usage this month), retrying for up
// to timeout while the API does not answer.
func (c *controlNode) counts(key string, timeout time.Duration) (stored, counted int64, err error) {
	deadline := time.Now().Add(timeout)
	for {
		var st struct{ Clicks int64 }
		var org struct {
			Usage struct {
				Clicks int64 `json:"trackedClicksThisMonth"`
			} `json:"usage"`
		}
		err = getJSON(c.client, "https://"+c.api+"/v1/stats?groupBy=count&interval=all&bots=include", key, &st)
		if err == nil {
			err = getJSON(c.client, "https://"+c.api+"/v1/org", key, &org)
		}
		if err == nil {
			return st.Clicks, org.Usage.Clicks, nil
		}
		if time.Now().After(deadline) {
			return 0, 0, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
