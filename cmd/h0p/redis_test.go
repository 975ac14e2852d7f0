package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/ratelimit/redislimit/redistest"
)

func TestRedisFlags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantURL    string
		wantClosed bool
		wantErr    string
	}{
		{name: "default: in memory"},
		{name: "flags", args: []string{"--redis-url", "redis://:pw@10.0.0.5:6379/2", "--redis-fail=closed"},
			wantURL: "redis://:pw@10.0.0.5:6379/2", wantClosed: true},
		{name: "environment", env: map[string]string{"H0P_REDIS_URL": "redis://r:6379", "H0P_REDIS_FAIL": "open"},
			wantURL: "redis://r:6379"},
		{name: "flag over environment", args: []string{"--redis-fail", "open"}, env: map[string]string{"H0P_REDIS_FAIL": "closed"}},
		{name: "bad fail mode", args: []string{"--redis-fail", "half"}, wantErr: `--redis-fail "half": must be open or closed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f redisFlags
			fs := newFlags("test", "", io.Discard)
			f.register(fs)
			if err := parseFlags(fs, tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			var cfg control.Config
			err := f.apply(&cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RateLimitRedisURL != tt.wantURL || cfg.RateLimitFailClosed != tt.wantClosed {
				t.Errorf("got URL %q, fail closed %v; want %q, %v", cfg.RateLimitRedisURL, cfg.RateLimitFailClosed, tt.wantURL, tt.wantClosed)
			}
		})
	}
}

// h0p dev --redis-url --redis-fail=closed: the API answers while Redis
// does, refuses with 503 while it is down, and answers again once it is
// back.
func TestDevRedisFailClosed(t *testing.T) {
	srv := redistest.StartServer(t)
	d := mustStartDevWith(t, devConfig{
		APIAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), DefaultDomain: "localhost", Redis: redisFlags{URL: srv.URL(), Fail: "closed"},
	}, quiet)
	defer d.stop(t)
	key := keyLine.FindStringSubmatch(d.stdout)[1]

	if status, body := d.api(t, "GET", "/v1/links", key, ""); status != 200 {
		t.Fatalf("Redis up: %d %v", status, body)
	}
	srv.Kill()
	status, body := d.api(t, "GET", "/v1/links", key, "")
	if e, _ := body["error"].(map[string]any); status != 503 || e["code"] != "UNAVAILABLE" {
		t.Fatalf("Redis down: %d %v, want 503 UNAVAILABLE", status, body)
	}
	srv.Start()
	deadline := time.Now().Add(10 * time.Second)
	for status, body = d.api(t, "GET", "/v1/links", key, ""); status != 200; status, body = d.api(t, "GET", "/v1/links", key, "") {
		if time.Now().After(deadline) {
			t.Fatalf("Redis back for 10s: %d %v", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
