package ratelimit_test

import (
	"testing"
	"time"

	"github.com/h0p/h0p/control/ratelimit"
	"github.com/h0p/h0p/control/ratelimit/limitertest"
)

func newMemory(_ testing.TB, now func() time.Time) ratelimit.Limiter {
	return ratelimit.NewMemory(now)
}

func TestMemory(t *testing.T) {
	limitertest.Run(t, newMemory)
}

func FuzzAllow(f *testing.F) {
	limitertest.Fuzz(f, newMemory)
}
