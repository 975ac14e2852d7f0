// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests, and keeps every message it receives.
package mailtest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message as the server received it.
type Message struct {
	From    string
	To      []string
	Subject string
	Body    string // decoded
	Raw     []byte
}

// Server is a running SMTP server.
type Server struct {
	// URL is the server for mail.ParseURL (plain SMTP on loopback).
	URL string

	opts     Options
	mu       sync.Mutex
	messages []Message
}

// Options make the server stricter.
type Options struct {
	// TLS, when set, makes the server offer STARTTLS with it.
	TLS *tls.Config
	// User and Password, when set, are required (AUTH PLAIN) before mail
	// is taken.
	User, Password string
}

// Start runs a plain server until the test ends.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith runs a server with opts until the test ends.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{URL: "smtp://" + ln.Addr().String() + "?from=h0p@example.com", opts: opts}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.TLSConfig = opts.TLS
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Messages is every message received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait returns the newest message to `to` whose subject contains subject,
// waiting up to 10 s for it.
func (s *Server) Wait(t testing.TB, to, subject string) Message {
	t.Helper()
	return s.WaitFrom(t, 0, to, subject)
}

// WaitFrom is Wait for messages after the first from (a len(Messages())
// taken before the message was asked for).
func (s *Server) WaitFrom(t testing.TB, from int, to, subject string) Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		msgs := s.Messages()
		for i := len(msgs) - 1; i >= from; i-- {
			if strings.Contains(msgs[i].Subject, subject) && len(msgs[i].To) == 1 && msgs[i].To[0] == to {
				return msgs[i]
			}
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no message %q to %s arrived (got %d messages)", subject, to, len(msgs))
		}
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s      *Server
	from   string
	to     []string
	authed bool
}

var errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}

func (se *session) AuthMechanisms() []string {
	if se.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != se.s.opts.User || password != se.s.opts.Password {
			return errors.New("wrong user or password")
		}
		se.authed = true
		return nil
	}), nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }
func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.s.opts.User != "" && !se.authed {
		return errAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: se.from, To: se.to, Raw: raw}
	if parsed, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		m.Subject, _ = new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		body := parsed.Body
		if strings.EqualFold(parsed.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, _ := io.ReadAll(body)
		m.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	se.s.mu.Lock()
	se.s.messages = append(se.s.messages, m)
	se.s.mu.Unlock()
	return nil
}
