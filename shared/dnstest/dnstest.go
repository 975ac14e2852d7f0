// Package dnstest runs a real DNS server on 127.0.0.1 for tests, over UDP
// and TCP on one port, answering the records a test sets: the resolver of
// domain checks (--dns-resolver) and of an ACME server's validations point
// at it. Names it holds no record for answer NXDOMAIN.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is a running DNS server.
type Server struct {
	addr string
	mu   sync.Mutex
	rrs  map[string][]dns.RR // by lowercase FQDN
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{rrs: map[string][]dns.RR{}}
	var tcp net.Listener
	var udp net.PacketConn
	for range 10 { // the UDP port of a free TCP port is almost always free
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if udp, err = net.ListenPacket("udp", l.Addr().String()); err == nil {
			tcp = l
			break
		}
		l.Close()
	}
	if tcp == nil {
		t.Fatal("dnstest: no port free for both TCP and UDP")
	}
	h := dns.HandlerFunc(s.serve)
	for _, srv := range []*dns.Server{{Listener: tcp, Handler: h}, {PacketConn: udp, Handler: h}} {
		go srv.ActivateAndServe()
		t.Cleanup(func() { srv.Shutdown() })
	}
	s.addr = tcp.Addr().String()
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Set replaces name's records: each a record's data in zone-file form
// after the type, e.g. Set("links.example.test", "A", "127.0.0.1"),
// Set("_h0p-challenge.links.example.test", "TXT", `"token"`),
// Set("links.example.test", "CNAME", "edge.localhost."). Records of other
// types of name stay.
func (s *Server) Set(t testing.TB, name, typ string, data ...string) {
	t.Helper()
	fqdn := strings.ToLower(dns.Fqdn(name))
	rrtype := dns.StringToType[typ]
	var rrs []dns.RR
	for _, d := range data {
		rr, err := dns.NewRR(fqdn + " 60 IN " + typ + " " + d)
		if err != nil {
			t.Fatalf("dnstest: %s %s %s: %v", name, typ, d, err)
		}
		rrs = append(rrs, rr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.rrs[fqdn][:0:0]
	for _, rr := range s.rrs[fqdn] {
		if rr.Header().Rrtype != rrtype {
			kept = append(kept, rr)
		}
	}
	s.rrs[fqdn] = append(kept, rrs...)
}

// Clear removes every record of name.
func (s *Server) Clear(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rrs, strings.ToLower(dns.Fqdn(name)))
}

func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	s.mu.Lock()
	for _, q := range r.Question {
		rrs, ok := s.rrs[strings.ToLower(q.Name)]
		if !ok || len(rrs) == 0 {
			m.Rcode = dns.RcodeNameError
			continue
		}
		for _, rr := range rrs {
			if h := rr.Header(); h.Rrtype == q.Qtype || h.Rrtype == dns.TypeCNAME {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
	}
	s.mu.Unlock()
	w.WriteMsg(m)
}
