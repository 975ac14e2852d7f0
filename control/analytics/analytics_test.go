package analytics

import (
	"context"
	"reflect"
	"testing"

	"github.com/h0p/h0p/shared/clicks"
)

func TestKnownOrgs(t *testing.T) {
	cs := []clicks.Click{{LinkID: "l1"}, {LinkID: "l2"}, {LinkID: "l1"}}
	m, err := KnownOrgs(cs, []string{"o1", "o2", "o1"})(context.Background(), []string{"l1", "l2", "l3"})
	if err != nil || !reflect.DeepEqual(m, map[string]string{"l1": "o1", "l2": "o2"}) {
		t.Errorf("%v %v", m, err)
	}
}
