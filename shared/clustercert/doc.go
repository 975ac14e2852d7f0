// Package clustercert is the trust model of node-to-node traffic in H0p (the
// raft transport and calls between nodes, such as the cluster join): a
// private cluster CA, one certificate per node, mutual TLS 1.3 on every
// connection. It mints the CA and node certificates (h0p admin certs),
// writes and loads them, and builds the tls.Configs and the peer identity
// that the transports use. It must not know raft, HTTP or any transport: it
// deals in certificates, tls.Configs and identities.
//
// Holding a key whose certificate the cluster CA signed is what makes a
// process a member of the cluster; nothing else is checked at the TLS layer.
// Both sides present a certificate and verify the other's against the CA;
// the dialing side also checks that the server's certificate covers the host
// it dialed, so a node certificate must name every address peers use to
// reach it.
//
// A certificate's URI SAN h0p://node/<role>/<id> says who the node is and
// what it may be: role "control" (a raft voter), "edge" (a raft
// non-voter) or "admin" (an operator's tools, never a raft member, and a
// client certificate only: it cannot serve as a node's). The CA
// signs the role like the rest of the certificate, so an edge cannot
// present itself as control. Callers act on it: the join handler compares
// PeerIdentity's id and role with what the caller asks to become and
// refuses admin, and the raft transport accepts inbound RPCs from control
// nodes only.
//
// Files: ca.pem, the CA certificate, on every node and operator machine; <id>.pem and
// <id>-key.pem on node id only; ca-key.pem stays with the operator. There is
// no revocation (CRL or OCSP): to remove a node for good, mint a new CA and
// certificates for the remaining nodes, and roll them out with both CAs in
// ca.pem until every node has its new certificate.
package clustercert
