package api

import "strings"

// apiPrefixes are the API's paths; every other is the dashboard's.
var apiPrefixes = []string{"/v1", "/f", "/docs", "/mcp", "/cluster"}

// IsAPIPath reports whether path is the API's (/v1/…, /f/…, /docs, /mcp,
// /cluster/…), where an unknown route is 404 in the envelope, whether or
// not a dashboard is mounted.
func IsAPIPath(path string) bool {
	for _, p := range apiPrefixes {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}
