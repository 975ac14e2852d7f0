package main

import (
	"reflect"
	"testing"
)

func TestParseTLS(t *testing.T) {
	for _, tc := range []struct {
		names   string
		want    []string
		wantErr bool
	}{
		{names: "keepalive,handshake", want: []string{keepAlive, handshake}},
		{names: " handshake , handshake", want: []string{handshake}},
		{names: "none", want: nil},
		{names: "", want: nil},
		{names: "resume", wantErr: true},
	} {
		got, err := parseTLS(tc.names)
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseTLS(%q) = %v, %v; want %v (error: %v)", tc.names, got, err, tc.want, tc.wantErr)
		}
	}
}
