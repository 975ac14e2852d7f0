package replication

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/h0p/h0p/shared/clustercert"
)

const (
	tlsTransportMaxPool = 3
	tlsTransportTimeout = 10 * time.Second
)

// errNotAdvertisable is raft's TCP transport's refusal, kept word for word:
// peers cannot dial 0.0.0.0 or [::].
var errNotAdvertisable = errors.New("local bind address is not advertisable")

// NewTLSTransport is raft's network transport over mutual TLS. It listens on
// bindAddr and tells peers to dial advertise ("" means the bound address).
// serverTLS and clientTLS are a node's clustercert.Bundle ServerConfig and
// ClientConfig.
//
// On top of what the configs check (both certificates from the cluster CA,
// the server's naming the host dialed), the transport accepts inbound
// connections only from control nodes: every raft RPC (AppendEntries,
// RequestVote, InstallSnapshot, TimeoutNow) is sent by a leader or a
// candidate, and only voters become either, so an edge certificate has
// nothing to say on a raft port. Edges still receive replication: the leader
// dials them.
//
// An advertise host that is an IP literal must not be unspecified, as with
// raft's TCP transport; a DNS name is kept as it is (not resolved), so raft's
// configuration stores the name, peers resolve it at each dial, and the
// TLS server name checked against the certificate is that name.
func NewTLSTransport(bindAddr string, advertise string, serverTLS, clientTLS *tls.Config, logger hclog.Logger) (*raft.NetworkTransport, error) {
	if serverTLS == nil || clientTLS == nil {
		return nil, errors.New("raft tls transport: server and client TLS configs are required")
	}
	if serverTLS.ClientAuth != tls.RequireAndVerifyClientCert {
		// Anything else would quietly turn mutual TLS into one-way TLS.
		return nil, errors.New("raft tls transport: server TLS config must require and verify client certificates")
	}
	var adv net.Addr
	if advertise != "" {
		a, err := parseAdvertise(advertise)
		if err != nil {
			return nil, fmt.Errorf("raft tls transport: advertise %q: %w", advertise, err)
		}
		adv = a
	}
	ln, err := net.Listen("tcp", bindAddr)
	if err != nil {
		return nil, fmt.Errorf("raft tls transport: %w", err)
	}
	local := adv
	if local == nil {
		local = ln.Addr()
	}
	if tcp, ok := local.(*net.TCPAddr); ok && (tcp.IP == nil || tcp.IP.IsUnspecified()) {
		ln.Close()
		return nil, fmt.Errorf("raft tls transport: %s: %w", local, errNotAdvertisable)
	}

	stream := &tlsStreamLayer{
		ln:        tls.NewListener(ln, controlPeersOnly(serverTLS)),
		advertise: adv,
		client:    knownPeersOnly(clientTLS),
		timeout:   tlsTransportTimeout,
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: tlsTransportMaxPool,
		Timeout: tlsTransportTimeout,
		Logger:  logger,
	}), nil
}

// parseAdvertise accepts ip:port or name:port with a non-zero port.
func parseAdvertise(s string) (net.Addr, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("port %q is not a port peers can dial", portStr)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))), nil
	}
	if host == "" {
		return nil, errNotAdvertisable
	}
	return hostAddr(net.JoinHostPort(host, portStr)), nil
}

// hostAddr is an advertised address that is a DNS name.
type hostAddr string

func (a hostAddr) Network() string { return "tcp" }
func (a hostAddr) String() string  { return string(a) }

// controlPeersOnly returns a copy of cfg that also refuses, during the
// handshake, any client that is not a control node.
func controlPeersOnly(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	next := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if next != nil {
			if err := next(cs); err != nil {
				return err
			}
		}
		id, role, err := clustercert.PeerIdentity(cs)
		if err != nil {
			return err
		}
		if role != clustercert.Control {
			return fmt.Errorf("raft rpc from %s node %q refused: only control nodes send raft rpcs", role, id)
		}
		return nil
	}
	return cfg
}

// knownPeersOnly returns a copy of cfg that also requires the server's
// certificate to name a node, so every raft connection has a known peer.
func knownPeersOnly(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	next := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if next != nil {
			if err := next(cs); err != nil {
				return err
			}
		}
		_, _, err := clustercert.PeerIdentity(cs)
		return err
	}
	return cfg
}

// tlsStreamLayer is raft's StreamLayer over a TLS listener and dialer.
type tlsStreamLayer struct {
	ln        net.Listener // a tls.Listener
	advertise net.Addr     // nil: the listener's address
	client    *tls.Config
	timeout   time.Duration // bounds the server side of each handshake
}

var _ raft.StreamLayer = (*tlsStreamLayer)(nil)

// Dial connects and completes the handshake within timeout (0: no limit, as
// with net.DialTimeout), so a peer that accepts TCP but never speaks TLS
// costs raft one timeout, not a hung RPC.
func (s *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	d := tls.Dialer{Config: s.client}
	return d.DialContext(ctx, "tcp", string(address))
}

// Accept returns the next connection without handshaking: raft's accept loop
// is a single goroutine, and one slow client must not hold up the others. The
// handshake runs on the connection's own goroutine at its first read or
// write, bounded by s.timeout (raft sets no deadline on inbound connections).
func (s *tlsStreamLayer) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	return &serverConn{Conn: c.(*tls.Conn), timeout: s.timeout}, nil
}

func (s *tlsStreamLayer) Close() error { return s.ln.Close() }

func (s *tlsStreamLayer) Addr() net.Addr {
	if s.advertise != nil {
		return s.advertise
	}
	return s.ln.Addr()
}

// serverConn is an accepted connection whose handshake has a deadline.
type serverConn struct {
	*tls.Conn
	timeout time.Duration
	once    sync.Once
	err     error
}

func (c *serverConn) handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		c.err = c.HandshakeContext(ctx)
	})
	return c.err
}

func (c *serverConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *serverConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
