package audit

import (
	"testing"
	"time"

	"github.com/h0p/h0p/control/access"
)

type view struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

func TestDiffIsCompact(t *testing.T) {
	for name, tc := range map[string]struct {
		before, after any
		want          string
	}{
		"create":  {nil, view{"a", "u"}, `{"after":{"name":"a","url":"u"}}`},
		"delete":  {view{"a", "u"}, nil, `{"before":{"name":"a","url":"u"}}`},
		"update":  {view{"a", "u"}, view{"b", "u"}, `{"after":{"name":"b"},"before":{"name":"a"}}`},
		"nil ptr": {(*view)(nil), nil, ``},
	} {
		if got := string(diff(tc.before, tc.after)); got != tc.want {
			t.Errorf("%s: %s, want %s", name, got, tc.want)
		}
	}
}

func TestEntryNamesTheActor(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bot := access.Principal{Kind: access.BotKey, OrgID: "org_1", KeyID: "key_b", RequestID: "req_1", IP: "10.0.0.1"}
	e := Entry(bot, "org_1", at, "link.created", "link", "link_1", nil, view{"a", "u"})
	if e.ActorType != "bot" || e.ActorID != "key_b" || e.KeyID != "key_b" || e.RequestID != "req_1" || e.IP != "10.0.0.1" || !e.At.Equal(at) {
		t.Errorf("bot entry %+v", e)
	}
	user := access.Principal{Kind: access.Session, OrgID: "org_1", UserID: "usr_1"}
	if e := Entry(user, "org_1", at, "x", "y", "z", nil, nil); e.ActorType != "user" || e.ActorID != "usr_1" || e.KeyID != "" || e.Diff != nil {
		t.Errorf("session entry %+v", e)
	}
}

func TestObjectMatchesEntry(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bot := access.Principal{Kind: access.BotKey, OrgID: "org_1", KeyID: "key_b"}
	for side, args := range map[string][2]any{"after": {nil, view{"a", "u"}}, "before": {view{"a", "u"}, nil}} {
		want := Entry(bot, "org_1", at, "link.x", "link", "link_1", args[0], args[1])
		got := Object(bot, "org_1", at, "link.x", "link", "link_1", side, []byte(`{"name":"a","url":"u"}`))
		if string(got.Diff) != string(want.Diff) || got.ActorID != want.ActorID || got.Action != want.Action {
			t.Errorf("%s: Object %+v, Entry %+v", side, got, want)
		}
	}
}
