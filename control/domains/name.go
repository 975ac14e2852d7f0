package domains

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"github.com/h0p/h0p/shared/apierror"
)

// MaxNameLen is the longest domain name DNS carries, in ASCII.
const MaxNameLen = 253

var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule(),
	idna.ValidateLabels(true), idna.StrictDomainName(true), idna.VerifyDNSLength(true))

// NormalizeName returns raw as stored (lowercase punycode, no trailing
// dot) or a VALIDATION_ERROR naming field "name". platform are the
// platform's own domains: they and the names under them are refused.
// local are top-level names taken as public suffixes besides the list's.
func NormalizeName(raw string, platform, local []string) (string, error) {
	bad := func(format string, args ...any) error { return apierror.Invalid("name", fmt.Sprintf(format, args...)) }
	name := strings.TrimSuffix(strings.TrimSpace(raw), ".")
	if name == "" {
		return "", bad("is required")
	}
	if len(name) > MaxNameLen {
		return "", bad("must be at most %d characters", MaxNameLen)
	}
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return "", bad("must be a host name, not an IP address")
	}
	ascii, err := idnaProfile.ToASCII(strings.ToLower(name))
	if err != nil {
		return "", bad("is not a valid domain name")
	}
	if len(ascii) > MaxNameLen {
		return "", bad("must be at most %d characters in ASCII (punycode)", MaxNameLen)
	}
	suffix, icann := publicsuffix.PublicSuffix(ascii)
	if slices.Contains(local, suffix) {
		icann = true
	}
	if !icann && !strings.Contains(suffix, ".") {
		// The list's default rule: a top-level domain it does not know.
		return "", bad("is not under a known public suffix")
	}
	if ascii == suffix {
		return "", bad("is a public suffix; add a name under it")
	}
	for _, p := range platform {
		p = strings.TrimSuffix(strings.ToLower(p), ".")
		if p != "" && (ascii == p || strings.HasSuffix(ascii, "."+p)) {
			return "", bad("is a domain of the platform")
		}
	}
	return ascii, nil
}
