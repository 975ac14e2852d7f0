package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/h0p/h0p/shared/urlhost"
)

// MaxURLLen bounds a URL, as given and as normalised.
const MaxURLLen = 2048

// URLError is a URL the policy refuses: the caller's input is wrong, and
// Reason says how ("must use https"). Err is the *AddrError when the
// reason is a refused address.
type URLError struct {
	Reason string
	Err    error
}

func (e *URLError) Error() string { return "URL " + e.Reason }

func (e *URLError) Unwrap() error { return e.Err }

func refuse(format string, args ...any) error {
	return &URLError{Reason: fmt.Sprintf(format, args...)}
}

// CheckURL returns raw normalised (scheme and host lowercase, the host in
// the one form shared/urlhost gives it, IDNs as punycode, the port in
// decimal without a redundant colon) if the policy lets control send to
// it, a *URLError if not. A host name is looked up and every address it
// has must pass CheckAddr; a name that does not exist is a *URLError, but
// a lookup that fails (timeout, SERVFAIL) is another error, which says
// nothing of the URL.
func (p Policy) CheckURL(ctx context.Context, raw string) (string, error) {
	if len(raw) > MaxURLLen {
		return "", refuse("must be at most %d bytes", MaxURLLen)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", refuse("must not contain whitespace or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", refuse("is not a valid URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP:
	case u.Scheme == "http":
		return "", refuse("must use https")
	default:
		return "", refuse("must be an absolute https URL")
	}
	if u.Opaque != "" {
		return "", refuse("must be an absolute https URL")
	}
	if u.User != nil {
		return "", refuse("must not contain credentials")
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", refuse("must have a host")
	}
	host, err := urlhost.OfURL(u)
	if err != nil {
		return "", refuse("has an invalid host: %v", err)
	}
	port := u.Port()
	u.Host = host.String()
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return "", refuse("has an invalid port")
		}
		u.Host = net.JoinHostPort(strings.Trim(host.String(), "[]"), strconv.FormatUint(n, 10))
	}
	if host.IsIP() {
		if err := p.CheckAddr(host.Addr); err != nil {
			var ae *AddrError
			errors.As(err, &ae)
			return "", &URLError{Reason: "points at " + ae.describe() + ", which is not allowed", Err: err}
		}
	} else if err := p.checkName(ctx, host.Domain); err != nil {
		return "", err
	}
	out := u.String()
	if len(out) > MaxURLLen {
		return "", refuse("must be at most %d bytes", MaxURLLen)
	}
	return out, nil
}

// checkName looks name up and checks every address it has: the dialer
// might pick any of them. The addresses stay out of the error, which the
// API shows its caller: control's view of DNS is none of its business.
func (p Policy) checkName(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, p.dialTimeout())
	defer cancel()
	fqdn := strings.TrimSuffix(name, ".") + "." // rooted: no search domains
	addrs, err := p.resolver().LookupNetIP(ctx, "ip", fqdn)
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound, err == nil && len(addrs) == 0:
		return &URLError{Reason: "has a host that does not resolve", Err: err}
	case err != nil:
		return fmt.Errorf("egress: look up %s: %w", name, err)
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			var ae *AddrError
			errors.As(err, &ae)
			return &URLError{Reason: "has a host that resolves to " + ae.describe() + ", which is not allowed", Err: err}
		}
	}
	return nil
}
