package linkcsv

import (
	"errors"
	"fmt"
	"strings"
)

// Format names the CSV dialect of a file, recognised from its header row.
type Format string

const (
	// Native is H0p's own format, the one Writer produces.
	Native Format = "native"
	// Bitly is the export of Bitly's Links page (or a dump of its API's
	// Bitlink fields).
	Bitly Format = "bitly"
	// Shlink is the export of Shlink's web client (short_urls.csv), or the
	// file Shlink's own CSV importer reads.
	Shlink Format = "shlink"
)

// ErrUnknownFormat is returned by Detect for a header it does not recognise.
var ErrUnknownFormat = errors.New("unrecognised CSV header")

// field is what a column means to a Row, whatever the format calls it.
type field int

const (
	fURL field = iota
	fKey
	fDomain
	fTitle
	fTags
	fCreatedAt
	fExternalID
	fClicks
	fShortLink  // a whole short URL: "https://bit.ly/abc" or "bit.ly/abc"
	fCustomLink // Bitly: the custom back-half's short URL, preferred over fShortLink
	numFields
)

// aliases lists, per format and field, the normalised column names (see
// normalise) that carry the field, best first. The sources of these names
// are in FORMATS.md.
var aliases = map[Format][numFields][]string{
	Native: {
		fURL:        {"url"},
		fKey:        {"key"},
		fDomain:     {"domain"},
		fTitle:      {"title"},
		fTags:       {"tags"},
		fCreatedAt:  {"createdat"},
		fExternalID: {"externalid"},
		fClicks:     {"clicks"},
	},
	Shlink: {
		fURL:       {"longurl"},
		fKey:       {"shortcode"},
		fDomain:    {"domain"},
		fTitle:     {"title"},
		fTags:      {"tags"},
		fCreatedAt: {"createdat", "datecreated"},
		fClicks:    {"visits", "visitscount"},
		fShortLink: {"shorturl"},
	},
	Bitly: {
		fURL:        {"longurl", "destinationurl", "originalurl"},
		fTitle:      {"title"},
		fTags:       {"tags"},
		fCreatedAt:  {"createdat", "datecreated", "created"},
		fExternalID: {"id"},
		fClicks:     {"clicks", "totalclicks", "engagements", "totalengagements"},
		fShortLink:  {"link", "bitlink", "shortlink"},
		fCustomLink: {"customlink", "custombitlink", "custombitlinks"},
	},
}

// plan is a recognised header: the format and, per field, the column index
// that carries it (-1 when the file has no such column).
type plan struct {
	format Format
	col    [numFields]int
	names  []string // header cells as written (trimmed, BOM removed), for errors
}

// Detect recognises the format of a file from its header row. Column names
// are compared case-insensitively, ignoring surrounding space, a leading
// UTF-8 byte order mark and the characters ' ', '_' and '-' (so "Long URL",
// "long_url" and "longUrl" are one name). Column order does not matter.
//
// Native wins when the header has a "url" column; otherwise Shlink when it has
// "longUrl" and "shortCode" or "shortUrl"; otherwise Bitly when it has a long
// URL column ("long_url", "Long URL", "Destination URL") and a short link
// column ("link", "Bitlink", "Custom link").
func Detect(header []string) (Format, error) {
	p, err := newPlan(header)
	if err != nil {
		return "", err
	}
	return p.format, nil
}

func newPlan(header []string) (*plan, error) {
	names := make([]string, len(header))
	index := make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, bom)
		}
		names[i] = strings.TrimSpace(h)
		n := normalise(h)
		if _, dup := index[n]; !dup && n != "" {
			index[n] = i // the first of two same-named columns wins
		}
	}
	has := func(n string) bool { _, ok := index[n]; return ok }

	var f Format
	switch {
	case has("url"):
		f = Native
	case has("longurl") && (has("shortcode") || has("shorturl")):
		f = Shlink
	case (has("longurl") || has("destinationurl") || has("originalurl")) &&
		(has("link") || has("bitlink") || has("shortlink") ||
			has("customlink") || has("custombitlink") || has("custombitlinks")):
		f = Bitly
	default:
		return nil, fmt.Errorf("%w: want a Native (url,key,domain,title,tags,createdAt), "+
			"Shlink (longUrl,shortCode,…) or Bitly (long URL and short link) header, got %q",
			ErrUnknownFormat, names)
	}

	p := &plan{format: f, names: names}
	for fl := range numFields {
		p.col[fl] = -1
		for _, a := range aliases[f][fl] {
			if i, ok := index[a]; ok {
				p.col[fl] = i
				break
			}
		}
	}
	return p, nil
}

const bom = "\uFEFF"

// normalise maps a column name to the form aliases uses.
func normalise(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), bom)
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
}
