// Package chtest gives tests an empty ClickHouse database of their own on
// the server named by H0P_TEST_CLICKHOUSE_URL (make test sets it from
// deploy/test/clickhouse.sh). Without that variable, tests that ask for a
// database are skipped, unless H0P_REQUIRE_CLICKHOUSE=1 (CI) makes them
// fail.
package chtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// ServerURL is the test server's URL; without one the test is skipped.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("H0P_TEST_CLICKHOUSE_URL")
	if u == "" {
		if os.Getenv("H0P_REQUIRE_CLICKHOUSE") == "1" {
			t.Fatal("H0P_TEST_CLICKHOUSE_URL not set and H0P_REQUIRE_CLICKHOUSE=1")
		}
		t.Skip("H0P_TEST_CLICKHOUSE_URL not set; make test sets it")
	}
	return u
}

// Database creates an empty database, drops it when the test ends, and
// returns the server URL with database set to it.
func Database(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(ServerURL(t))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		t.Fatalf("H0P_TEST_CLICKHOUSE_URL: want an http:// URL (err %v)", err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	Exec(t, u.String(), "CREATE DATABASE "+name)
	t.Cleanup(func() { drop(t, u.String(), name) })
	q := u.Query()
	q.Set("database", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs one statement on the server at serverURL.
func Exec(t testing.TB, serverURL, sql string) {
	t.Helper()
	if err := exec(serverURL, sql); err != nil {
		t.Fatal(err)
	}
}

// drop drops the database name. ClickHouse 18.16 refuses while a
// statement that outlived its test's wait (a lock the test gave up on)
// still creates a table in it ("Code: 219 … Try dropping it again"):
// that is retried for up to 10 s.
func drop(t testing.TB, serverURL, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := exec(serverURL, "DROP DATABASE IF EXISTS "+name)
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Code: 219,") || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func exec(serverURL, sql string) error {
	resp, err := http.Post(serverURL, "text/plain", strings.NewReader(sql))
	if err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", sql, resp.Status, body)
	}
	return nil
}
