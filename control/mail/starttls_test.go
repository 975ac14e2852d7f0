package mail

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/h0p/h0p/control/mail/mailtest"
)

// A server that offers no STARTTLS gets nothing unless it is on loopback
// or the URL allows it: someone on the path could have stripped the offer.
func TestSMTPRequiresSTARTTLSOffTheLoopback(t *testing.T) {
	srv := mailtest.Start(t) // offers no STARTTLS
	addr := strings.TrimPrefix(srv.URL[:strings.Index(srv.URL, "?")], "smtp://")
	_, port, _ := net.SplitHostPort(addr)
	for url, want := range map[string]bool{
		"smtp://127.0.0.1:" + port:                               true,
		"smtp://localhost:" + port:                               true,
		"smtp://mail.example.com:" + port:                        false,
		"smtp://mail.example.com:" + port + "?starttls=optional": true,
	} {
		s, err := ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		s.addr = addr // the name is the URL's; the server is the test's
		err = s.Send(context.Background(), Message{To: "a@example.com", Subject: "x", Body: "y"})
		if (err == nil) != want {
			t.Errorf("%s: %v, want sent %v", url, err, want)
		}
	}
}
