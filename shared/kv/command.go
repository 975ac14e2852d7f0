package kv

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// CommandVersion is the format version byte of a Command.
const CommandVersion byte = 1

// MaxOps bounds the ops of one command, so a corrupt count cannot make a
// decoder allocate without limit.
const MaxOps = 10_000

// OpType says what an Op does.
type OpType byte

const (
	OpPutLink      OpType = 1 // create or replace a link (payload: Link record)
	OpDeleteLink   OpType = 2 // delete a link (payload: LinkDelete fields)
	OpPutNode      OpType = 3 // record a cluster node's addresses (payload: Node record)
	OpPutDomain    OpType = 4 // create or replace a domain's settings (payload: Domain record)
	OpDeleteDomain OpType = 5 // delete a domain's settings (payload: the host)
	OpPutSalt      OpType = 6 // set a day's visitor salt unless it has one (payload: Salt)
	// publish an ACME HTTP-01 answer (payload: uvarint token length, token, key authorization)
	OpPutChallenge    OpType = 7
	OpDeleteChallenge OpType = 8 // remove an ACME HTTP-01 answer (payload: the token)
	// set a custom domain's TLS certificate (payload: Certificate record)
	OpPutCertificate    OpType = 9
	OpDeleteCertificate OpType = 10 // remove a domain's certificate (payload: the host)
	OpPutACMEAccount    OpType = 11 // keep the ACME account's sealed key (payload: the sealed key)
	// set a custom domain's failing certificate attempts (payload: CertificateFailure record)
	OpPutCertificateFailure    OpType = 12
	OpDeleteCertificateFailure OpType = 13 // forget a domain's failing attempts (payload: the host)
)

func (t OpType) String() string {
	switch t {
	case OpPutLink:
		return "put_link"
	case OpDeleteLink:
		return "delete_link"
	case OpPutNode:
		return "put_node"
	case OpPutDomain:
		return "put_domain"
	case OpDeleteDomain:
		return "delete_domain"
	case OpPutSalt:
		return "put_salt"
	case OpPutChallenge:
		return "put_challenge"
	case OpDeleteChallenge:
		return "delete_challenge"
	case OpPutCertificate:
		return "put_certificate"
	case OpDeleteCertificate:
		return "delete_certificate"
	case OpPutACMEAccount:
		return "put_acme_account"
	case OpPutCertificateFailure:
		return "put_certificate_failure"
	case OpDeleteCertificateFailure:
		return "delete_certificate_failure"
	}
	return fmt.Sprintf("op(%d)", byte(t))
}

// LinkDelete removes link ID at version Version. The FSM finds where the link
// lives from its state row, so a delete needs no host or slug.
type LinkDelete struct {
	ID      string
	Version uint64
}

const (
	deleteTagID      = 1
	deleteTagVersion = 2
)

// Op is one change to the edge database. Exactly one of the pointers is set,
// as Type says.
type Op struct {
	Type   OpType
	Link   *Link       // OpPutLink
	Delete *LinkDelete // OpDeleteLink
	Node   *Node       // OpPutNode
	Domain *Domain     // OpPutDomain; OpDeleteDomain uses Domain.Host
	Salt   *Salt       // OpPutSalt
	// OpPutChallenge; OpDeleteChallenge uses Challenge.Token
	Challenge *Challenge
	// OpPutCertificate; OpDeleteCertificate uses Certificate.Host
	Certificate *Certificate
	Sealed      []byte // OpPutACMEAccount
	// OpPutCertificateFailure; OpDeleteCertificateFailure uses
	// CertificateFailure.Host
	CertificateFailure *CertificateFailure
}

// Command is one raft log entry: ops applied atomically, in order.
type Command struct {
	Ops []Op
}

// PutLink is a command that creates or replaces one link.
func PutLink(l Link) Command { return Command{Ops: []Op{{Type: OpPutLink, Link: &l}}} }

// DeleteLink is a command that deletes one link.
func DeleteLink(id string, version uint64) Command {
	return Command{Ops: []Op{{Type: OpDeleteLink, Delete: &LinkDelete{ID: id, Version: version}}}}
}

// PutNode is a command that records where a cluster node can be reached.
func PutNode(n Node) Command { return Command{Ops: []Op{{Type: OpPutNode, Node: &n}}} }

// Encode returns the wire form of c. It panics on an op whose payload does not
// match its type: that is a programming error in control, never input.
func (c Command) Encode() []byte {
	b := []byte{CommandVersion}
	b = binary.AppendUvarint(b, uint64(len(c.Ops)))
	var payload []byte
	for _, op := range c.Ops {
		payload = payload[:0]
		switch op.Type {
		case OpPutLink:
			payload = AppendLink(payload, op.Link)
		case OpDeleteLink:
			w := fieldWriter{b: payload}
			w.string(deleteTagID, op.Delete.ID)
			w.uint(deleteTagVersion, op.Delete.Version)
			payload = w.b
		case OpPutNode:
			payload = AppendNode(payload, op.Node)
		case OpPutDomain:
			payload = AppendDomain(payload, op.Domain)
		case OpDeleteDomain:
			payload = append(payload, op.Domain.Host...)
		case OpPutSalt:
			payload = binary.AppendUvarint(payload, uint64(op.Salt.Day))
			payload = append(payload, op.Salt.Value[:]...)
		case OpPutChallenge:
			payload = binary.AppendUvarint(payload, uint64(len(op.Challenge.Token)))
			payload = append(payload, op.Challenge.Token...)
			payload = append(payload, op.Challenge.KeyAuth...)
		case OpDeleteChallenge:
			payload = append(payload, op.Challenge.Token...)
		case OpPutCertificate:
			payload = AppendCertificate(payload, op.Certificate)
		case OpDeleteCertificate:
			payload = append(payload, op.Certificate.Host...)
		case OpPutACMEAccount:
			payload = append(payload, op.Sealed...)
		case OpPutCertificateFailure:
			payload = AppendCertificateFailure(payload, op.CertificateFailure)
		case OpDeleteCertificateFailure:
			payload = append(payload, op.CertificateFailure.Host...)
		default:
			panic(fmt.Sprintf("kv: encode unknown %v", op.Type))
		}
		b = append(b, byte(op.Type))
		b = binary.AppendUvarint(b, uint64(len(payload)))
		b = append(b, payload...)
	}
	return b
}

// DecodeCommand decodes a command's wire form.
func DecodeCommand(b []byte) (Command, error) {
	body, err := checkVersion(b, CommandVersion, "command")
	if err != nil {
		return Command{}, err
	}
	n, k := binary.Uvarint(body)
	if k <= 0 || n > MaxOps {
		return Command{}, fmt.Errorf("%w: bad op count", ErrCorrupt)
	}
	body = body[k:]
	c := Command{Ops: make([]Op, 0, min(n, uint64(len(body))))}
	for i := range n {
		if len(body) == 0 {
			return Command{}, fmt.Errorf("%w: command ends at op %d of %d", ErrCorrupt, i, n)
		}
		t := OpType(body[0])
		l, k := binary.Uvarint(body[1:])
		if k <= 0 || l > uint64(len(body)-1-k) {
			return Command{}, fmt.Errorf("%w: bad payload length of op %d", ErrCorrupt, i)
		}
		payload := body[1+k : 1+k+int(l)]
		body = body[1+k+int(l):]
		op, err := decodeOp(t, payload)
		if err != nil {
			return Command{}, fmt.Errorf("op %d: %w", i, err)
		}
		c.Ops = append(c.Ops, op)
	}
	if len(body) != 0 {
		return Command{}, fmt.Errorf("%w: %d trailing bytes after command", ErrCorrupt, len(body))
	}
	return c, nil
}

func decodeOp(t OpType, payload []byte) (Op, error) {
	switch t {
	case OpPutLink:
		l, err := DecodeLink(payload)
		if err != nil {
			return Op{}, err
		}
		if l.ID == "" || l.Domain == "" || l.Slug == "" || l.Version == 0 {
			return Op{}, fmt.Errorf("%w: put_link needs id, domain, slug and version", ErrCorrupt)
		}
		if strings.IndexByte(l.Domain, 0) >= 0 || strings.IndexByte(l.Slug, 0) >= 0 {
			return Op{}, fmt.Errorf("%w: put_link host or slug holds NUL", ErrCorrupt)
		}
		return Op{Type: t, Link: &l}, nil
	case OpDeleteLink:
		var d LinkDelete
		r := fieldReader{b: payload}
		for tag, val, ok := r.next(); ok; tag, val, ok = r.next() {
			switch tag {
			case deleteTagID:
				d.ID = string(val)
			case deleteTagVersion:
				d.Version = r.uint(tag, val)
			}
		}
		if r.err != nil {
			return Op{}, r.err
		}
		if d.ID == "" || d.Version == 0 {
			return Op{}, fmt.Errorf("%w: delete_link needs id and version", ErrCorrupt)
		}
		return Op{Type: t, Delete: &d}, nil
	case OpPutNode:
		n, err := DecodeNode(payload)
		if err != nil {
			return Op{}, err
		}
		if n.ID == "" {
			return Op{}, fmt.Errorf("%w: put_node needs an id", ErrCorrupt)
		}
		return Op{Type: t, Node: &n}, nil
	case OpPutDomain:
		d, err := DecodeDomain(payload)
		if err != nil {
			return Op{}, err
		}
		if d.Host == "" {
			return Op{}, fmt.Errorf("%w: put_domain needs a host", ErrCorrupt)
		}
		return Op{Type: t, Domain: &d}, nil
	case OpDeleteDomain:
		if len(payload) == 0 {
			return Op{}, fmt.Errorf("%w: delete_domain needs a host", ErrCorrupt)
		}
		return Op{Type: t, Domain: &Domain{Host: string(payload)}}, nil
	case OpPutSalt:
		day, k := binary.Uvarint(payload)
		if k <= 0 || len(payload)-k != len(Salt{}.Value) || day > maxSaltDay {
			return Op{}, fmt.Errorf("%w: put_salt needs a day and %d bytes", ErrCorrupt, len(Salt{}.Value))
		}
		s := Salt{Day: int64(day)}
		copy(s.Value[:], payload[k:])
		return Op{Type: t, Salt: &s}, nil
	case OpPutChallenge:
		n, k := binary.Uvarint(payload)
		if k <= 0 || n > uint64(len(payload)-k) {
			return Op{}, fmt.Errorf("%w: put_challenge needs a token", ErrCorrupt)
		}
		c := Challenge{Token: string(payload[k : k+int(n)]), KeyAuth: string(payload[k+int(n):])}
		if !ValidChallengeToken(c.Token) || !validKeyAuth(c.KeyAuth) {
			return Op{}, fmt.Errorf("%w: put_challenge needs a base64url token and a printable key authorization", ErrCorrupt)
		}
		return Op{Type: t, Challenge: &c}, nil
	case OpDeleteChallenge:
		if !ValidChallengeToken(string(payload)) {
			return Op{}, fmt.Errorf("%w: delete_challenge needs a base64url token", ErrCorrupt)
		}
		return Op{Type: t, Challenge: &Challenge{Token: string(payload)}}, nil
	case OpPutCertificate:
		c, err := DecodeCertificate(payload)
		if err != nil {
			return Op{}, err
		}
		if c.Host == "" || len(c.ChainPEM) == 0 || len(c.SealedKey) == 0 || c.Version == 0 {
			return Op{}, fmt.Errorf("%w: put_certificate needs a host, a chain, a sealed key and a version", ErrCorrupt)
		}
		return Op{Type: t, Certificate: &c}, nil
	case OpDeleteCertificate:
		if len(payload) == 0 {
			return Op{}, fmt.Errorf("%w: delete_certificate needs a host", ErrCorrupt)
		}
		return Op{Type: t, Certificate: &Certificate{Host: string(payload)}}, nil
	case OpPutACMEAccount:
		if len(payload) == 0 {
			return Op{}, fmt.Errorf("%w: put_acme_account needs a sealed key", ErrCorrupt)
		}
		return Op{Type: t, Sealed: append([]byte(nil), payload...)}, nil
	case OpPutCertificateFailure:
		f, err := DecodeCertificateFailure(payload)
		if err != nil {
			return Op{}, err
		}
		if !validCertificateFailure(&f) {
			return Op{}, fmt.Errorf("%w: put_certificate_failure needs a host, a count and a UTF-8 message of at most %d bytes", ErrCorrupt, MaxCertificateFailureMessage)
		}
		return Op{Type: t, CertificateFailure: &f}, nil
	case OpDeleteCertificateFailure:
		if len(payload) == 0 {
			return Op{}, fmt.Errorf("%w: delete_certificate_failure needs a host", ErrCorrupt)
		}
		return Op{Type: t, CertificateFailure: &CertificateFailure{Host: string(payload)}}, nil
	}
	return Op{}, fmt.Errorf("%w: unknown %v", ErrCorrupt, t)
}
