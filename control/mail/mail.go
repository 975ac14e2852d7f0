// Package mail sends the product's emails (address verification, password
// resets, invitations) through an SMTP server, or, in h0p dev without one,
// writes them to the log so a developer can follow their links.
//
// The server is a URL:
//
//	smtp://[user:password@]host[:port][?from=address]   port 587 by default; STARTTLS required
//	smtps://[user:password@]host[:port][?from=address]  port 465 by default; TLS from the first byte
//
// The mails carry one-time secrets (reset codes, invitation tokens), so
// smtp:// refuses a server that offers no STARTTLS — someone on the path
// could strip the offer — unless the server is on loopback or the URL says
// ?starttls=optional. Credentials are only sent over TLS (or to a loopback
// server, as net/smtp allows). The sender defaults to h0p@<host of the URL>. Messages are plain
// text, UTF-8, quoted-printable; header values never carry a line break.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Message is one plain-text email to one recipient.
type Message struct {
	To      string
	Subject string
	Body    string
}

// SMTP sends messages through an SMTP server.
type SMTP struct {
	addr     string // host:port
	host     string
	implicit bool // smtps: TLS from the first byte
	plainOK  bool // smtp:// without STARTTLS is allowed (loopback, or ?starttls=optional)
	from     string
	user     string
	password string
	// TLS is the client TLS configuration (nil: the system's roots and the
	// server's host name); tests set their own roots.
	TLS *tls.Config
	// Timeout bounds one delivery (zero: 30 s).
	Timeout time.Duration
	Now     func() time.Time // nil: time.Now
}

// ParseURL reads an SMTP server URL (see the package doc).
func ParseURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("smtp url: %w", err)
	}
	s := &SMTP{host: u.Hostname()}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
	case "smtps":
		s.implicit = true
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("smtp url: scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if s.host == "" {
		return nil, fmt.Errorf("smtp url: no host")
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
	}
	switch v := u.Query().Get("starttls"); v {
	case "", "required":
		ip := net.ParseIP(s.host)
		s.plainOK = s.host == "localhost" || ip != nil && ip.IsLoopback()
	case "optional":
		s.plainOK = true
	default:
		return nil, fmt.Errorf("smtp url: starttls must be required or optional, not %q", v)
	}
	s.from = u.Query().Get("from")
	if s.from == "" {
		s.from = "h0p@" + s.host
	}
	if a, err := mail.ParseAddress(s.from); err != nil || a.Address != s.from {
		return nil, fmt.Errorf("smtp url: from=%q is not an email address", s.from)
	}
	return s, nil
}

// String is the server without its password, for logs.
func (s *SMTP) String() string {
	scheme := "smtp"
	if s.implicit {
		scheme = "smtps"
	}
	return scheme + "://" + s.addr
}

// Send delivers m, or returns why it could not.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := checkAddress(m.To); err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tlsConfig := s.tlsConfig()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if s.implicit {
		conn = tls.Client(conn, tlsConfig)
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if !s.implicit {
		switch ok, _ := c.Extension("STARTTLS"); {
		case ok:
			if err := c.StartTLS(tlsConfig); err != nil {
				return fmt.Errorf("smtp starttls: %w", err)
			}
		case !s.plainOK:
			return fmt.Errorf("smtp: %s offers no STARTTLS (add ?starttls=optional to send in clear)", s.addr)
		}
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.password, s.host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(s.from); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("smtp rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(s.format(m)); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	return c.Quit()
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.TLS != nil {
		c := s.TLS.Clone()
		if c.ServerName == "" {
			c.ServerName = s.host
		}
		return c
	}
	return &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
}

// format renders m as an RFC 5322 message.
func (s *SMTP) format(m Message) []byte {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var id [12]byte
	rand.Read(id[:])
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", s.from)
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	header("Date", now().UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+s.host+">")
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(m.Body, "\n", "\r\n")))
	qp.Close()
	return b.Bytes()
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

func checkAddress(to string) error {
	if a, err := mail.ParseAddress(to); err != nil || a.Address != to {
		return fmt.Errorf("mail: %q is not an email address", to)
	}
	return nil
}

// Log writes messages to a logger instead of sending them: h0p dev's
// mailbox when it has no SMTP server. Never use it where the logs are read
// by others than the mail's recipient: the messages carry one-time secrets.
type Log struct {
	Logger *slog.Logger
}

// Send logs m.
func (l Log) Send(_ context.Context, m Message) error {
	if err := checkAddress(m.To); err != nil {
		return err
	}
	l.Logger.Info("email (not sent: no --smtp-url; h0p dev shows it here)", "to", m.To, "subject", m.Subject,
		"body", m.Body)
	return nil
}
