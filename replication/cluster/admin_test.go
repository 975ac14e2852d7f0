package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/replication/replicationtest"
	"github.com/h0p/h0p/shared/clustercert"
)

// withPeer makes r look as if it came over mutual TLS with a verified
// certificate for id and role.
func withPeer(t *testing.T, r *http.Request, id string, role clustercert.Role) *http.Request {
	t.Helper()
	ca, err := clustercert.MintCA("test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := ca.MintNode(id, role, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf, ca.Cert}}}
	return r
}

// Each endpoint takes the certificates it is for: an operator's admin
// certificate never joins, reports or ships clicks; an edge's never
// removes a node or takes a backup.
func TestEndpointRoles(t *testing.T) {
	h := &Handler{}
	for _, tt := range []struct {
		method, path string
		role         clustercert.Role
	}{
		{"POST", "/cluster/v1/join", clustercert.Admin},
		{"POST", "/cluster/v1/report", clustercert.Admin},
		{"POST", "/cluster/v1/clicks", clustercert.Admin},
		{"POST", "/cluster/v1/remove", clustercert.Edge},
		{"GET", "/cluster/v1/backup", clustercert.Edge},
	} {
		t.Run(tt.path+" "+string(tt.role), func(t *testing.T) {
			body := `{"id":"x","raftAddr":"127.0.0.1:1","appliedIndex":1}`
			req := withPeer(t, httptest.NewRequest(tt.method, tt.path, strings.NewReader(body)), "x", tt.role)
			req.Header.Set("Content-Type", ClicksContentType)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden {
				t.Errorf("got %d %s, want 403", rec.Code, rec.Body)
			}
		})
	}
}

// A member's report marks it following until it is StaleAfter old; the
// status shows the last one and the lag behind the commit index.
func TestReportsAge(t *testing.T) {
	node, _ := replicationtest.SingleVoter(t)
	now := time.Unix(1_000_000, 0)
	h := &Handler{Node: node, Now: func() time.Time { return now }}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, withPeer(t, httptest.NewRequest("POST", "/cluster/v1/report", strings.NewReader(`{"appliedIndex":1}`)), node.ID(), clustercert.Edge))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("report: %d %s", rec.Code, rec.Body)
	}
	rep, ok := h.reports.get(node.ID())
	if !ok || rep.applied != 1 || !rep.at.Equal(now) {
		t.Errorf("report %+v %v", rep, ok)
	}
	st, err := h.clusterStatus()
	if err != nil {
		t.Fatal(err)
	}
	// The answering node shows its own applied index, never a report.
	if len(st.Members) != 1 || st.Members[0].State != StateLeader || st.Members[0].ReportedAt != nil || st.Members[0].AppliedIndex != st.AppliedIndex {
		t.Errorf("members %+v", st.Members)
	}

	// Another member's report: following, then silent once stale.
	h.reports.put("e9", memberReport{applied: 0, at: now})
	m := Member{ID: "e9"}
	for _, tt := range []struct {
		age  time.Duration
		want string
	}{{0, StateFollower}, {StaleAfter, StateFollower}, {StaleAfter + time.Millisecond, StateSilent}} {
		h.Now = func() time.Time { return now.Add(tt.age) }
		if got := h.member(m, st.Status).State; got != tt.want {
			t.Errorf("report %v old: %s, want %s", tt.age, got, tt.want)
		}
	}
	if got := h.member(m, st.Status).Lag; got != st.CommitIndex {
		t.Errorf("lag %d, want the commit index %d", got, st.CommitIndex)
	}
}
