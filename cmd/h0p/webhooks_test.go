package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// h0p dev with --webhook-allow-http and --webhook-allow-networks sends a
// test ping to a receiver on the loopback; without them the URL is refused.
func TestDevWebhookPing(t *testing.T) {
	got := make(chan http.Header, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case got <- r.Header.Clone():
		default:
		}
	}))
	defer recv.Close()
	for _, tt := range []struct {
		name   string
		flags  webhookFlags
		status int
	}{
		{"guarded", webhookFlags{}, 400},
		{"allowed", webhookFlags{allowHTTP: true, allowNetworks: "127.0.0.0/8,::1/128"}, 201},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := mustStartDevWith(t, devConfig{APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
				RaftAddr: "127.0.0.1:0", DataDir: t.TempDir(), DefaultDomain: "localhost", Webhooks: tt.flags}, quiet)
			defer d.stop(t)
			key := keyLine.FindStringSubmatch(d.stdout)[1]
			status, wh := d.api(t, "POST", "/v1/webhooks", key, `{"url":"`+recv.URL+`/in","events":["link.created"]}`)
			if status != tt.status {
				t.Fatalf("create: %d %v, want %d", status, wh, tt.status)
			}
			if status != 201 {
				return
			}
			status, a := d.api(t, "POST", "/v1/webhooks/"+wh["id"].(string)+"/test", key, "")
			if status != 200 || a["success"] != true || a["statusCode"] != float64(200) {
				t.Fatalf("test: %d %v", status, a)
			}
			h := <-got
			if !strings.HasPrefix(h.Get("user-agent"), "H0p-Webhooks/") || !strings.HasPrefix(h.Get("webhook-signature"), "v1,") {
				t.Errorf("headers %v", h)
			}
		})
	}
}
