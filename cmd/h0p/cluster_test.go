package main

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type created struct {
	slug, url, id string
	status        int
}

// createStream creates n links over the control nodes round-robin with
// `workers` concurrent clients, calling after(i) once link i was attempted.
func (c *testCluster) createStream(prefix string, n, workers int, after func(i int)) []created {
	out := make([]created, n)
	next := make(chan int)
	var wg sync.WaitGroup
	controls := c.controls()
	for w := range workers {
		wg.Go(func() {
			for i := range next {
				slug := fmt.Sprintf("%s-%d", prefix, i)
				url := "https://example.com/" + slug
				// Try the nodes in turn from a worker-specific start: a
				// killed node refuses connections and the next one answers.
				r := c.call(controls[(i+w)%len(controls)], "POST", "/v1/links", `{"url":"`+url+`","key":"`+slug+`"}`)
				out[i] = created{slug: slug, url: url, status: r.status}
				if r.status == 201 {
					out[i].id, _ = r.body["id"].(string)
				}
				if after != nil {
					after(i)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// checkAcknowledged: every link that got a 201 is readable on every live
// control node and resolves on every live edge.
func (c *testCluster) checkAcknowledged(links []created) (acked int) {
	c.t.Helper()
	for _, l := range links {
		if l.status != 201 {
			continue
		}
		acked++
		for _, n := range c.controls() {
			if c.nodes[n].cmd == nil {
				continue
			}
			if r := c.call(n, "GET", "/v1/links/"+l.id, ""); r.status != 200 {
				c.t.Errorf("%s: acknowledged link %s answers %d (%v)", n, l.slug, r.status, r.err)
			}
		}
		for _, e := range c.edges() {
			if c.nodes[e].cmd != nil && !c.waitResolves(e, l.slug, l.url, 10*time.Second) {
				c.t.Errorf("%s: acknowledged link %s does not resolve", e, l.slug)
			}
		}
	}
	return acked
}

// One cluster walked through the faults that must be survived, at a scale
// that fits `make test`; the long versions are in faults_test.go.
func TestClusterSurvivesLeaderLossQuorumLossAndControlLoss(t *testing.T) {
	c := newTestCluster(t, 3, 2)
	c.startAll()
	leader := c.waitLeader(20 * time.Second)
	var follower string
	for _, n := range c.controls() {
		if n != leader {
			follower = n
			break
		}
	}

	// Joining needs a certificate from the cluster CA.
	resp, err := c.api.Post(c.apiURL(leader)+"/cluster/v1/join", "application/json",
		strings.NewReader(`{"id":"intruder","raftAddr":"127.0.0.1:1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("join without a client certificate: %d, want 401", resp.StatusCode)
	}
	if servers, _ := c.status(leader, false); len(servers.Servers) != 5 {
		t.Errorf("cluster has %d members, want 5: %+v", len(servers.Servers), servers.Servers)
	}

	// A write through a follower is forwarded to the leader.
	r := c.call(follower, "POST", "/v1/links", `{"url":"https://example.com/fwd","key":"fwd"}`)
	if r.status != 201 {
		t.Fatalf("create via follower %s: %d %v %v", follower, r.status, r.body, r.err)
	}
	c.checkAcknowledged([]created{{slug: "fwd", url: "https://example.com/fwd", id: r.body["id"].(string), status: 201}})

	// 1. SIGKILL the leader in the middle of a stream of creates.
	var once sync.Once
	links := c.createStream("k", 60, 3, func(i int) {
		if i == 20 {
			once.Do(func() { c.signal(leader, syscall.SIGKILL) })
		}
	})
	newLeader := c.waitLeader(20 * time.Second)
	if newLeader == leader {
		t.Fatalf("leader %s still leads after SIGKILL", leader)
	}
	acked := c.checkAcknowledged(links)
	t.Logf("leader %s killed: %d of %d creates acknowledged, new leader %s", leader, acked, len(links), newLeader)
	// Creates 0..19 were attempted before the kill; those still in flight
	// with it (up to one per worker) may fail, and so may every create until
	// a new leader is elected.
	if atLeast := 20 - 3; acked < atLeast {
		t.Errorf("only %d creates succeeded before and around the leader kill, want at least %d", acked, atLeast)
	}
	// Creates that failed were reported as failed (an error or a non-201);
	// some may still have reached the store through the outbox, which is
	// allowed. With the new leader, writes work again through any node.
	for _, n := range c.controls() {
		if n == leader {
			continue
		}
		if r := c.call(n, "POST", "/v1/links", `{"url":"https://example.com/after-kill"}`); r.status != 201 {
			t.Errorf("create via %s after the new election: %d %v", n, r.status, r.body)
		}
	}

	// 4. Quorum lost: with a second voter down, writes fail fast with 503.
	var other string
	for _, n := range c.controls() {
		if n != leader && n != newLeader {
			other = n
		}
	}
	c.signal(newLeader, syscall.SIGKILL)
	start := time.Now()
	r = c.call(other, "POST", "/v1/links", `{"url":"https://example.com/noquorum"}`)
	if r.status != 503 || r.body["error"].(map[string]any)["code"] != "UNAVAILABLE" {
		t.Errorf("write without quorum: %d %v %v", r.status, r.body, r.err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("write without quorum took %v, want a fast failure", took)
	}
	// The voters return; writes succeed again without manual recovery.
	c.start(leader)
	c.start(newLeader)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = c.call(other, "POST", "/v1/links", `{"url":"https://example.com/back","key":"back"}`)
		if r.status == 201 || r.status == 409 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not come back after the voters returned: %d %v", r.status, r.body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, n := range c.controls() {
		c.waitReady(n, 30*time.Second)
	}
	links = append(links, created{slug: "back", url: "https://example.com/back", status: 201, id: fmt.Sprint(r.body["id"])})
	c.waitSameContent(20 * time.Second)

	// 3. Every control node down: edges keep serving every acknowledged link.
	for _, n := range c.controls() {
		c.signal(n, syscall.SIGKILL)
	}
	for _, e := range c.edges() {
		for _, l := range links {
			if l.status != 201 {
				continue
			}
			if code, loc := c.resolve(e, l.slug); code != 302 || loc != l.url {
				t.Errorf("%s with control down: %s → %d %q", e, l.slug, code, loc)
			}
		}
		if st, err := c.status(e, false); err != nil {
			t.Errorf("%s status: %v", e, err)
		} else if resp, _ := c.edge.Get("http://" + c.nodes[e].admin + "/readyz"); resp == nil || resp.StatusCode != 200 {
			t.Errorf("%s not ready with control down (static stability); applied %d", e, st.AppliedIndex)
		}
	}
}
