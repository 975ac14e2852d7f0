package api_test

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// A destination on an edge's address loops, however a browser would write
// the address: every destination field refuses it.
func TestDestinationsOntoAnEdgeLoop(t *testing.T) {
	e := mustStart(t) // edges on 127.0.0.1:8081 and [::]:8082
	loops := []string{
		"http://127.0.0.1:8081/x",
		"http://[::1]:8081/x",
		"http://0x7f000001:8081/",
		"http://127.1:8081/x",
		"http://127.0.1:8081/",
		"http://2130706433:8081/",
		"http://0x7f.1:8081/",
		"http://0x7F.0.0.1:8081/",
		"http://0177.0.0.1:8081/",
		"http://017700000001:8081/",
		"http://127.0.0.1.:8081/",
		"http://[::ffff:127.0.0.1]:8081/",
		"http://[::ffff:7f00:1]:8081/",
		"http://[0:0:0:0:0:0:0:1]:8081/",
		"http://0.0.0.0:8081/",
		"http://[::]:8081/",
		"http://127.0.0.1:08081/",
		"HTTP://127.0.0.1:8081",
		"http://%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1:8081/", // full-width digits
		"https://localhost/x",                            // a short domain, any port
		"http://localhost.:8081/x",
		// The edge on every address: the loopback and this host's addresses.
		"http://127.0.0.9:8082/",
		"http://[::1]:8082/",
		"http://0x7f.2:8082/",
	}
	if ifaces, err := net.InterfaceAddrs(); err == nil {
		for _, a := range ifaces {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && !ip.IsLoopback() && ip.Zone() == "" {
					loops = append(loops, "http://"+netip.AddrPortFrom(ip.Unmap(), 8082).String()+"/")
				}
			}
		}
	}
	fields := []struct{ field, body string }{
		{"url", `{"url":%q}`},
		{"ios", `{"url":"https://example.com","ios":%q}`},
		{"android", `{"url":"https://example.com","android":%q}`},
		{"geo.US", `{"url":"https://example.com","geo":{"US":%q}}`},
		{"rules[0].url", `{"url":"https://example.com","rules":[{"url":%q,"device":["ios"]}]}`},
		{"variants[1].url", `{"url":"https://example.com","variants":[{"url":"https://a.example","weight":50},{"url":%q,"weight":50}]}`},
		{"expiredUrl", `{"url":"https://example.com","expiresAt":"2030-01-01T00:00:00Z","expiredUrl":%q}`},
	}
	refused := func(method, path, body, field string) {
		t.Helper()
		status, m, _ := e.call(t, method, path, e.key, body)
		errBody, _ := m["error"].(map[string]any)
		details, _ := errBody["details"].([]any)
		if status != 400 || errCode(m) != "VALIDATION_ERROR" || len(details) != 1 ||
			details[0].(map[string]any)["field"] != field || !strings.Contains(fmt.Sprint(details[0]), "loop") {
			t.Errorf("%s %s %s: %d %v, want 400 naming %s", method, path, body, status, m, field)
		}
	}
	for _, u := range loops {
		for _, f := range fields {
			refused("POST", "/v1/links", fmt.Sprintf(f.body, u), f.field)
		}
	}
	// Updates, upserts and bulk creates check the same way.
	id := e.mustCall(t, 201, "POST", "/v1/links", e.key, `{"url":"https://example.com/fine"}`)["id"].(string)
	refused("PATCH", "/v1/links/"+id, `{"url":"http://0x7f000001:8081/"}`, "url")
	refused("PUT", "/v1/links/upsert", `{"url":"http://[::1]:8081/x"}`, "url")
	bulk := e.mustCall(t, 200, "POST", "/v1/links/bulk", e.key, `[{"url":"http://127.1:8081/"}]`)["data"].([]any)
	if item := bulk[0].(map[string]any); errCode(item) != "VALIDATION_ERROR" {
		t.Errorf("bulk item onto the edge: %v", item)
	}

	// Another port, another address, or a name that is not ours: no loop.
	for _, u := range []string{
		"http://127.0.0.1:8083/",
		"http://127.0.0.1/",
		"https://127.0.0.1/",
		"http://[::1]:9000/",
		"http://10.1.2.3:8081/",
		"http://192.0.2.1:8082/",
		"http://example.com:8081/",
		"http://localhost.example:8081/",
	} {
		e.mustCall(t, 201, "POST", "/v1/links", e.key, fmt.Sprintf(`{"url":%q}`, u))
	}

	// Hosts and ports browsers refuse are not valid URLs.
	for _, u := range []string{"http://1.2.3.256/", "http://foo.0x7f/", "http://[::1%25eth0]/", "http://example.com:65536/"} {
		status, m, _ := e.call(t, "POST", "/v1/links", e.key, fmt.Sprintf(`{"url":%q}`, u))
		if status != 400 || errCode(m) != "VALIDATION_ERROR" {
			t.Errorf("%s: %d %v", u, status, m)
		}
	}
}
