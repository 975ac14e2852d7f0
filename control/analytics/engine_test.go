package analytics

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTopRows: the rows kept are those a full sort puts first, in its
// order, whatever the order they come in and the ties in clicks.
func TestTopRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 7, 100, 2000} {
		all := make([]Row, n)
		for i := range all {
			all[i] = Row{Value: fmt.Sprintf("v%05d", rng.IntN(1_000_000)), Clicks: rng.Int64N(20)}
		}
		want := slices.Clone(all)
		slices.SortFunc(want, compareRows)
		for _, limit := range []int{0, 1, 3, 10, n - 1, n, n + 5} {
			if limit < 0 {
				continue
			}
			top := topRows{limit: limit}
			for _, r := range all {
				top.add(r)
			}
			w := want
			if limit > 0 && limit < n {
				w = want[:limit]
			}
			if got := top.sorted(); !slices.Equal(got, w) {
				t.Errorf("%d rows, limit %d: %v, want %v", n, limit, got, w)
			}
		}
	}
}
