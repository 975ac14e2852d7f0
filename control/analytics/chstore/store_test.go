package chstore

import (
	"context"
	"testing"

	"github.com/h0p/h0p/control/analytics"
	"github.com/h0p/h0p/control/analytics/analyticstest"
	"github.com/h0p/h0p/control/analytics/chstore/chtest"
)

func TestSuite(t *testing.T) {
	analyticstest.Run(t, func(t *testing.T) analytics.Store {
		return mustOpen(t, chtest.Database(t))
	})
}

func mustOpen(t *testing.T, dbURL string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
