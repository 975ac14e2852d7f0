package kv

import (
	"reflect"
	"testing"
)

// FuzzDecodeCommand: decoding arbitrary bytes never panics, and whatever
// decodes re-encodes to a command that decodes to the same value.
func FuzzDecodeCommand(f *testing.F) {
	f.Add(PutLink(sampleLink).Encode())
	f.Add(DeleteLink("link_x", 4).Encode())
	f.Add([]byte{CommandVersion, 0})
	f.Add(PutChallenge(Challenge{Token: "tok_-A9", KeyAuth: "tok_-A9.thumb"}).Encode())
	f.Add(DeleteChallenge("tok_-A9").Encode())
	f.Add(PutCertificate(Certificate{Host: "links.example.test", ChainPEM: []byte("chain"), SealedKey: []byte("sealed"), NotAfter: 1, Version: 2}).Encode())
	f.Add(DeleteCertificate("links.example.test").Encode())
	f.Add(PutACMEAccount([]byte{1, 2, 3}).Encode())
	f.Add(PutCertificateFailure(CertificateFailure{Host: "links.example.test", Failures: 2, Message: "refused", At: 1, Next: 2}).Encode())
	f.Add(DeleteCertificateFailure("links.example.test").Encode())
	f.Add(PutNode(Node{ID: "c1", Role: "control", APIAddr: "https://x"}).Encode())
	f.Add(Command{Ops: []Op{{Type: OpPutDomain, Domain: &Domain{Host: "quiet.example", Version: 1, DoNotTrack: true}}}}.Encode())
	f.Add(Command{Ops: []Op{{Type: OpPutDomain, Domain: &Domain{Host: "go.example", Version: 2, RedirectStatus: 301,
		Indexable: true, NoHTTPSRedirect: true, HSTS: true}}}}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			return
		}
		again, err := DecodeCommand(c.Encode())
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if len(c.Ops) == 0 && len(again.Ops) == 0 {
			return
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the command: %+v vs %+v", c, again)
		}
	})
}

// FuzzDecodeLink: the record decoder the edge runs on every request never
// panics and is stable under re-encoding.
func FuzzDecodeLink(f *testing.F) {
	f.Add(AppendLink(nil, &sampleLink))
	f.Add(AppendLink(nil, &fullLink))
	f.Add(AppendLinkState(nil, &LinkState{Version: 1, Domain: "a", Slug: "b"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := DecodeLink(b)
		if err != nil {
			return
		}
		again, err := DecodeLink(AppendLink(nil, &l))
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, l)
		}
		if s, err := DecodeLinkState(b); err == nil {
			if again, err := DecodeLinkState(AppendLinkState(nil, &s)); err != nil || again != s {
				t.Fatalf("state round trip: %+v, %v; want %+v", again, err, s)
			}
		}
	})
}
