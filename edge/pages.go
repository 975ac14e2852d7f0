package edge

import (
	"bytes"
	"html"
	"strings"

	"github.com/h0p/h0p/shared/kv"
)

const notFoundPage = `<!doctype html><html><head><meta charset="utf-8"><title>Link not found</title>` +
	`<meta name="robots" content="noindex"></head><body><h1>Link not found</h1>` +
	`<p>This short link does not exist or is no longer active.</p></body></html>`

const expiredPage = `<!doctype html><html><head><meta charset="utf-8"><title>Link expired</title>` +
	`<meta name="robots" content="noindex"></head><body><h1>This link has expired</h1>` +
	`<p>The short link you followed is no longer active.</p></body></html>`

// placeholderPage is what "/" shows on a custom domain without a root URL:
// the domain is set up and serves links.
func placeholderPage(host string) string {
	h := html.EscapeString(host)
	return `<!doctype html><html><head><meta charset="utf-8"><title>` + h + `</title>` +
		`<meta name="robots" content="noindex"><meta name="viewport" content="width=device-width"></head><body>` +
		`<h1>` + h + `</h1><p>This domain serves short links. There is nothing else here.</p></body></html>`
}

// passwordPage is the form a password-protected link shows; it posts back
// to the same URL.
func passwordPage(message string) string {
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><title>Password required</title>` +
		`<meta name="robots" content="noindex"><meta name="viewport" content="width=device-width"></head><body>` +
		`<h1>This link is protected</h1>`)
	if message != "" {
		b.WriteString(`<p role="alert">` + html.EscapeString(message) + `</p>`)
	}
	b.WriteString(`<form method="post"><label>Password <input type="password" name="password" autofocus required></label> ` +
		`<button type="submit">Continue</button></form></body></html>`)
	return b.String()
}

// previewPage is what social and chat bots get: Open Graph and Twitter
// tags from the link's preview, and a refresh to the destination for any
// human who lands on it.
func previewPage(l *kv.Link) string {
	e := html.EscapeString
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8">`)
	if l.Preview.Title != "" {
		b.WriteString(`<title>` + e(l.Preview.Title) + `</title>`)
		b.WriteString(`<meta property="og:title" content="` + e(l.Preview.Title) + `">`)
		b.WriteString(`<meta name="twitter:title" content="` + e(l.Preview.Title) + `">`)
	}
	if l.Preview.Description != "" {
		b.WriteString(`<meta property="og:description" content="` + e(l.Preview.Description) + `">`)
		b.WriteString(`<meta name="twitter:description" content="` + e(l.Preview.Description) + `">`)
	}
	if l.Preview.Image != "" {
		b.WriteString(`<meta property="og:image" content="` + e(l.Preview.Image) + `">`)
		b.WriteString(`<meta name="twitter:image" content="` + e(l.Preview.Image) + `">`)
		b.WriteString(`<meta name="twitter:card" content="summary_large_image">`)
	}
	b.WriteString(`<meta property="og:url" content="` + e(l.URL) + `">`)
	b.WriteString(`<meta http-equiv="refresh" content="0; url=` + e(l.URL) + `"></head><body></body></html>`)
	return b.String()
}

// socialBots are the user agents of link-preview crawlers (lowercase
// substrings): they get the preview page instead of the redirect.
var socialBots = needles(
	"facebookexternalhit", "facebookcatalog", "twitterbot", "slackbot", "slack-imgproxy", "linkedinbot",
	"discordbot", "whatsapp", "telegrambot", "skypeuripreview", "pinterest", "redditbot", "embedly",
	"vkshare", "applebot", "mastodon", "bluesky", "iframely", "googlebot-image", "snapchat", "viber", "line/",
)

// otherBots flag crawlers the UA parser may not know.
var otherBots = needles("bot", "crawler", "spider", "curl/", "wget/", "python-requests", "go-http-client", "headless")

func needles(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, n := range s {
		out[i] = []byte(n)
	}
	return out
}

// botKind classifies a user agent: social preview bot, other bot, or not a
// bot. It lowercases the header into a stack buffer once and lets
// bytes.Contains (vectorised) look for each needle, so a request pays a few
// hundred nanoseconds and no allocation. User agents longer than the buffer
// are classified on their first uaScan bytes, where bot names appear.
func botKind(ua []byte, parsedBot bool) (isBot, isSocial bool) {
	var buf [uaScan]byte
	lower := buf[:0]
	for _, c := range ua {
		if len(lower) == uaScan {
			break
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	for _, b := range socialBots {
		if bytes.Contains(lower, b) {
			return true, true
		}
	}
	if parsedBot {
		return true, false
	}
	for _, b := range otherBots {
		if bytes.Contains(lower, b) {
			return true, false
		}
	}
	return false, false
}

// uaScan bounds how much of a user agent botKind reads.
const uaScan = 512
