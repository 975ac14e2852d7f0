// Package pgtest gives tests an empty PostgreSQL schema of their own on the
// server named by H0P_TEST_POSTGRES_URL (make test sets it from
// deploy/test/postgres.sh). Without that variable, tests that ask for a
// schema are skipped.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ServerURL is the test server's URL; without one the test is skipped.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("H0P_TEST_POSTGRES_URL")
	if u == "" {
		t.Skip("H0P_TEST_POSTGRES_URL not set; make test sets it")
	}
	return u
}

// Schema creates an empty schema, drops it when the test ends, and returns
// its name and the server URL with search_path (and application_name, to
// find the test's sessions) set to it.
func Schema(t testing.TB) (schema, dbURL string) {
	t.Helper()
	base := ServerURL(t)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("H0P_TEST_POSTGRES_URL: want a postgres:// URL (err %v)", err)
	}
	b := make([]byte, 8)
	rand.Read(b)
	schema = "t_" + hex.EncodeToString(b)
	Exec(t, base, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { Exec(t, base, `DROP SCHEMA `+schema+` CASCADE`) })

	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema)
	u.RawQuery = q.Encode()
	return schema, u.String()
}

// Exec runs one statement on its own connection to dbURL.
func Exec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
