package pebblestore

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/control/analytics/analyticstest"
)

func TestSuite(t *testing.T) {
	analyticstest.Run(t, func(t *testing.T) analytics.Store { return mustOpen(t, t.TempDir(), Options{}) })
}

func mustOpen(t *testing.T, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var _ = context.Background
var _ = time.Now
var _ = vfs.NewMem
