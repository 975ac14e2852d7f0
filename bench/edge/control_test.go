package main

import (
	"reflect"
	"testing"
)

func TestWithoutH0PVariables(t *testing.T) {
	got := withoutH0PVariables([]string{"PATH=/bin", "H0P_DATABASE_URL=postgres://x", "HOME=/root", "H0P_PEPPER_FILE=/p", "XH0P_=1"})
	want := []string{"PATH=/bin", "HOME=/root", "XH0P_=1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("withoutH0PVariables = %q, want %q", got, want)
	}
}
