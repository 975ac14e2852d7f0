// Package linkcsv reads and writes links as CSV: the format layer under
// GET /v1/links/export and POST /v1/links/import.
//
// It owns the column layouts, the recognition of a file's format from its
// header, the per-row error reports, the limits on an import file and the
// formula-injection guard of exported cells. It does not touch a store,
// HTTP, accounts or the clock, and it does not validate what a link means:
// whether a URL is acceptable, a key a valid slug (control/slug) or a domain
// one the workspace owns is the link service's call. It checks structure
// only: the column count, the quoting, dates, counts and short URLs that
// must be split into a domain and a key. Keys, domains, titles and URLs
// pass through as written (a domain is not lower-cased, a URL not
// normalised); surrounding space is trimmed from every cell but the title.
//
// Reading is streaming: NewReader reads the header and recognises the
// format, then each Next returns one Row or one *RowError, and a bad row
// does not stop the file. Whether a file with bad rows is imported in part
// is the caller's decision; a Row is never half-filled.
//
// # Formats
//
// Files are UTF-8 and comma-separated (encoding/csv's dialect: RFC 4180,
// LF or CRLF line ends). Column names are matched case-insensitively,
// trimmed, with a leading byte order mark dropped and ' ', '_' and '-'
// ignored, in any order; columns not listed here are ignored. Empty cells
// give zero fields.
//
// Native (H0p's own; Writer writes it):
//
//	url        the destination                       required to recognise the format
//	key        the slug
//	domain     the short domain
//	title
//	tags       tags separated by '|'
//	createdAt  RFC 3339 (other forms accepted: see Dates)
//	externalId the caller's own id for the link
//	clicks     read into Row.Clicks
//
// Writer writes url,key,domain,title,tags,createdAt,externalId,id,shortLink,
// clicks; id and shortLink are for people and are not imported. A tag may
// not contain '|' (Writer.Write refuses it); tags are trimmed and empty ones
// dropped on import, so a tag with surrounding space does not round-trip.
//
// Shlink: the web client's "Export" button (file short_urls.csv) writes,
// in this order, createdAt, domain, shortCode, shortUrl, longUrl, title,
// tags, visits, with tags joined by '|' and createdAt as Shlink's API gives
// dateCreated (ISO 8601 with offset, e.g. 2023-05-01T10:20:30+02:00); its
// domain is the host of shortUrl, so it is set even for the default domain.
// Sources, in shlinkio/shlink-web-component:
// src/short-urls/helpers/ExportShortUrlsBtn.tsx and
// src/short-urls/data/index.ts (ExportableShortUrl); earlier the same code
// was in shlinkio/shlink-web-client,
// whose src/utils/helpers/csvjson.ts turns the objects into CSV with
// json2csv (header from the object keys, strings quoted). Shlink's own CSV
// importer (shlinkio/shlink-importer src/Sources/Csv/CsvImporter.php) reads
// longUrl, shortCode, domain, title and tags ('|'-separated), matching names
// lower-cased with spaces removed; such a file is read as Shlink too.
//
//	longUrl              → URL        recognised with shortCode or shortUrl
//	shortCode            → Key
//	domain               → Domain
//	shortUrl             → Domain and Key when their columns are empty
//	title                → Title
//	tags                 → Tags ('|')
//	createdAt|dateCreated → CreatedAt  (dateCreated is the API's name)
//	visits|visitsCount   → Clicks     (visitsCount is the older API's name)
//
// Bitly: no Bitly document of the export's columns was found, and third
// parties disagree on the names, so the Bitly format accepts the names each
// of them gives:
//   - a migration guide for Bitly exports (URLR/urlr-docs,
//     docs migration/bitly.md) names "Link", "Custom Link" and
//     "Destination URL";
//   - another shortener's import design notes (a public repository), citing
//     Bitly's support article 115000268051 "Export from Links page", list "Link"/"Bitlink", "Custom Link"/"Custom Bitlink",
//     "Destination URL"/"Long URL", "Title", "Date created",
//     "Engagements"/"Clicks" and "Status";
//   - Bitly's v4 API Bitlink object, which scripted exports dump, has id
//     ("bit.ly/abc"), link, long_url, title, created_at, tags,
//     custom_bitlinks and archived (as listed by Fivetran's, CloudQuery's
//     and Coupler's Bitly schemas and by API clients; dev.bitly.com itself
//     was not available). Its created_at is assumed ISO 8601, possibly with
//     a colon-less offset (+0000), which is accepted.
//
// So:
//
//	long_url|Long URL|Destination URL|Original URL → URL   recognised with a short link column
//	link|Bitlink|Short link                       → Domain and Key (host, path)
//	Custom link|Custom Bitlink|custom_bitlinks    → Domain and Key, preferred to link;
//	                                                the first when the cell lists several
//	title                                         → Title
//	tags                                          → Tags, separated by '|', ',' or ';' (assumed)
//	created_at|Date created|Created               → CreatedAt
//	clicks|Total clicks|Engagements               → Clicks
//	id                                            → ExternalID (the API's "bit.ly/abc")
//
// A short link may come with or without a scheme ("https://bit.ly/abc",
// "bit.ly/abc"); the key is its path without the leading and trailing
// slash. An unparsable one, or one with no path, is a RowError on that
// column. Archived/Status columns are ignored: an archived Bitlink imports
// as a live link.
//
// When a header could be two formats, Native wins over Shlink, and Shlink
// over Bitly (see Detect).
//
// # Dates
//
// Dates are read as RFC 3339 (fractional seconds allowed), then as
// 2006-01-02T15:04:05-0700 (Bitly's API), then as 2006-01-02 15:04:05,
// 2006-01-02T15:04:05, 2006-01-02 15:04 and 2006-01-02 in UTC. Anything else
// is a RowError on the date column. Writer writes RFC 3339 in UTC.
//
// # Limits
//
// A header of more than MaxColumns (50) columns, or longer than MaxRowBytes,
// makes NewReader fail. A data row longer than MaxRowBytes (16 KiB,
// quoted line breaks included) is a RowError; it is read to its end without
// being kept, so memory stays bounded and the next row starts where
// encoding/csv would start it. A row whose column count differs from the
// header's, whose quoting is malformed or which is not UTF-8 is a RowError
// with an empty Field. After MaxRows (100,000) data rows, erroneous ones
// included and blank lines not counted, Next returns ErrTooManyRows for
// good: rows already returned stay returned, so a caller that wants a file
// refused whole must read it to the end before applying anything. The HTTP
// layer should also cap the body size (100,000 rows of 16 KiB is 1.6 GB).
//
// # Formula injection
//
// A spreadsheet opening an exported file could run a cell as a formula when
// its first character, also after leading spaces, is '=', '+', '-', '@',
// tab or carriage return (OWASP "CSV Injection"). Line feed counts as one
// too: encoding/csv reads CR LF as LF, and a cell escaped for its CR must
// still read as escaped. Writer prefixes every such cell, in every column,
// with an apostrophe, which spreadsheets show as text.
//
// The escape is reversible: it adds or removes nothing else, so export then
// import gives every value back byte for byte, but for what the format
// itself changes (the trimming above, and CR LF below; the link service
// stores no URL, key, domain or external id with surrounding space). The
// rule looks at a cell's first character after leading spaces. Writer
// prefixes one apostrophe when that character is a formula character or an
// apostrophe; the Native reader removes one leading apostrophe when the rest
// of the cell is one Writer would have prefixed, and leaves any other cell
// as it is:
//
//	value         written        read back
//	=1            '=1            =1
//	  @SUM(A1)    '  @SUM(A1)      @SUM(A1)
//	'=1           ''=1           '=1
//	 'a           ' 'a            'a
//	'a            ''a            'a
//	a=1           a=1            a=1
//	(a file's)    'a             'a
//
// Bitly's and Shlink's files are not written by Writer: their cells are
// read as they are, apostrophes included.
//
// encoding/csv reads a CRLF inside a quoted cell as LF, so a title with a
// CRLF comes back with an LF.
package linkcsv
