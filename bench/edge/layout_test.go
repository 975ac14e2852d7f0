package main

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestParseLayouts(t *testing.T) {
	for _, tc := range []struct {
		names   string
		cpus    int
		disk    []int
		want    []layout
		wantErr string
	}{
		{names: "shared,pinned", cpus: 2, want: []layout{
			{Name: "shared", Workers: 2, Threads: 2},
			{Name: "pinned", ServerCPUs: "0", LoadCPUs: "1", Workers: 1, Threads: 1},
		}},
		{names: " pinned ", cpus: 8, want: []layout{
			{Name: "pinned", ServerCPUs: "0-3", LoadCPUs: "4-7", Workers: 4, Threads: 4},
		}},
		{names: "pinned", cpus: 3, want: []layout{
			{Name: "pinned", ServerCPUs: "0", LoadCPUs: "1-2", Workers: 1, Threads: 2},
		}},
		{names: "pinned", cpus: 2, disk: []int{1}, want: []layout{
			{Name: "pinned", ServerCPUs: "1", LoadCPUs: "0", Workers: 1, Threads: 1},
		}},
		{names: "pinned", cpus: 3, disk: []int{1}, want: []layout{
			{Name: "pinned", ServerCPUs: "0", LoadCPUs: "1-2", Workers: 1, Threads: 2},
		}},
		{names: "pinned", cpus: 3, disk: []int{2}, want: []layout{
			{Name: "pinned", ServerCPUs: "2", LoadCPUs: "0-1", Workers: 1, Threads: 2},
		}},
		{names: "pinned", cpus: 8, disk: []int{0, 5, 6}, want: []layout{
			{Name: "pinned", ServerCPUs: "4-7", LoadCPUs: "0-3", Workers: 4, Threads: 4},
		}},
		{names: "shared", cpus: 1, want: []layout{{Name: "shared", Workers: 1, Threads: 2}}},
		{names: "shared,pinned", cpus: 1, wantErr: "needs 2 CPUs"},
		{names: "spread", cpus: 2, wantErr: `unknown layout "spread"`},
	} {
		got, err := parseLayouts(tc.names, tc.cpus, 2, tc.disk)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseLayouts(%q, %d): error %v, want one containing %q", tc.names, tc.cpus, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseLayouts(%q, %d) = %+v, %v; want %+v", tc.names, tc.cpus, got, err, tc.want)
		}
	}
}

func TestLayoutHeading(t *testing.T) {
	ls, err := parseLayouts("shared,pinned", 2, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		"Shared: server and wrk on every CPU (nginx 2 workers, edge 2 loops, wrk 2 threads)",
		"Pinned: server on CPU 0, wrk on CPU 1 (nginx 1 worker, edge 1 loop, wrk 1 thread)",
	} {
		if got := ls[i].describe(); got != want {
			t.Errorf("describe() = %q, want %q", got, want)
		}
	}
}

func TestDiskCPUs(t *testing.T) {
	cpus := diskCPUs(t.TempDir())
	t.Logf("the temporary directory's disk interrupts: CPUs %v", cpus)
	for _, c := range cpus {
		if c < 0 || c >= runtime.NumCPU() {
			t.Errorf("CPU %d of %d", c, runtime.NumCPU())
		}
	}
}
