// Package clustercert is the trust model of node-to-node traffic in H0p (the
// raft transport, the cluster join call, click shipping): a private cluster
// CA, one certificate per node, mutual TLS 1.3 on every connection. It mints
// the CA and node certificates (h0p admin certs), writes and loads them, and
// builds the tls.Configs and the peer identity that the transports use.
//
// # Trust model
//
// Holding a key whose certificate the cluster CA signed is what makes a
// process a member of the cluster; nothing else is checked at the TLS layer.
// Both sides present a certificate and both verify the other's against the
// CA; the dialing side also checks that the server's certificate covers the
// host it dialed (IP or DNS SAN), so a node certificate must name every
// address peers use to reach it. Loopback (127.0.0.1, ::1, localhost) is
// always included so single-machine clusters need no extra hosts.
//
// Each certificate states who the node is and what it may be:
//
//	Subject CommonName   <id>                       (for people and logs)
//	URI SAN              h0p://node/<role>/<id>     (what PeerIdentity reads)
//
// with role "control" (a raft voter) or "edge" (a raft non-voter). The role
// is signed by the CA like the rest of the certificate, so an edge cannot
// present itself as control: the join handler must compare PeerIdentity's id
// and role with what the caller asks to become, and the raft transport
// accepts inbound RPCs from control nodes only. PeerIdentity reads only a
// verified chain, requires exactly one h0p://node/ URI and a CommonName equal
// to its id.
//
// Node ids are 1 to 64 of [a-z0-9._-], starting with a letter or digit; "ca"
// and ids ending in "-key" are refused so that file names cannot collide.
//
// There is no revocation (CRL or OCSP): to remove a node for good, mint a new
// CA and new certificates for the remaining nodes, and roll them out with
// both CAs in ca.pem until every node has its new certificate (ca.pem may hold
// several CA certificates). Certificates are backdated five minutes to absorb
// clock skew; node certificates last one year, the CA ten.
//
// # Files
//
//	ca.pem          the CA certificate: on every node
//	ca-key.pem      the CA key (0600): stays with the operator, never on a node
//	<id>.pem        node id's certificate: on node id
//	<id>-key.pem    node id's key (0600): on node id only
//
// Keys are ECDSA P-256 in PKCS #8 PEM. WriteDir creates the directory 0700 and
// never replaces a file unless asked to.
//
// # Node lists
//
// ParseNodeList reads the --nodes flag of h0p admin certs:
// "c1,c2,c3,e1,e2" or "c1:control,west1:edge". An entry without a role is an
// edge when its id starts with "e", and control otherwise.
//
// This package must not know raft, HTTP or any transport: it deals in
// certificates, tls.Configs and identities.
package clustercert
