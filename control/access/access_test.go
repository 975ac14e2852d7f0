package access

import (
	"strings"
	"testing"

	"github.com/h0p/h0p/control/identity"
)

func TestRoleTable(t *testing.T) {
	full := "create read update delete"
	want := map[identity.Role]map[Resource]string{
		identity.RoleOwner:  {ShortLinks: full, Domains: full, APIKeys: full, Webhooks: full, Stats: "read", Files: full},
		identity.RoleAdmin:  {ShortLinks: full, Domains: full, APIKeys: full, Webhooks: full, Stats: "read", Files: full},
		identity.RoleMember: {ShortLinks: full, Domains: "create read update", APIKeys: "", Webhooks: "", Stats: "read", Files: full},
	}
	for role, byRes := range want {
		set := OfRole(role)
		for _, r := range Resources {
			var got []string
			for _, a := range Actions {
				if set.Has(r, a) {
					got = append(got, string(a))
				}
			}
			if strings.Join(got, " ") != byRes[r] {
				t.Errorf("%s %s: %q, want %q", role, r, strings.Join(got, " "), byRes[r])
			}
		}
	}
	if OfRole("nobody") != 0 {
		t.Error("unknown role has permissions")
	}
}

func TestEffective(t *testing.T) {
	linksRead := Of(map[Resource][]Action{ShortLinks: {Read}})
	keysAll := Of(map[Resource][]Action{APIKeys: {Create, Read, Update, Delete}})
	tests := []struct {
		name string
		p    Principal
		want Set
	}{
		{"session is the role", Principal{Kind: Session, Role: identity.RoleMember}, OfRole(identity.RoleMember)},
		{"user key is grants ∩ role", Principal{Kind: UserKey, Role: identity.RoleMember, Grants: linksRead | keysAll}, linksRead},
		{"demoted user key narrows", Principal{Kind: UserKey, Role: identity.RoleMember, Grants: All}, OfRole(identity.RoleMember)},
		{"bot key is its grants", Principal{Kind: BotKey, Grants: keysAll}, keysAll},
	}
	for _, tt := range tests {
		if got := tt.p.Effective(); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseRoundTrip(t *testing.T) {
	s, err := Parse(identity.Permissions{"shortLinks": {"read", "create"}, "stats": {"read"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Permissions(); len(got) != 2 || strings.Join(got["shortLinks"], ",") != "create,read" {
		t.Errorf("Permissions() = %v", got)
	}
	for _, bad := range []identity.Permissions{{"links": {"read"}}, {"shortLinks": {"write"}}, {"nope": {}}} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "unknown permissions") {
			t.Errorf("Parse(%v) = %v", bad, err)
		}
	}
	if All.String() == "" || strings.Count(All.String(), ",") != 23 {
		t.Errorf("All = %s", All)
	}
}

func TestCheck(t *testing.T) {
	owner := Principal{Kind: Session, Role: identity.RoleOwner}
	member := Principal{Kind: Session, Role: identity.RoleMember}
	adminKey := Principal{Kind: UserKey, Role: identity.RoleAdmin, Grants: All}
	bot := Principal{Kind: BotKey, Grants: All}
	tests := []struct {
		p    Principal
		n    Need
		want Decision
	}{
		{member, Need{Resource: ShortLinks, Action: Delete}, Allowed},
		{member, Need{Resource: APIKeys, Action: Create}, Denied},
		{member, Need{Resource: APIKeys, Action: Create, OwnUserKey: true}, OwnKeyOnly},
		{Principal{Kind: UserKey, Role: identity.RoleMember}, Need{Resource: APIKeys, Action: Create, OwnUserKey: true}, Denied},
		{owner, Need{MinRole: identity.RoleAdmin}, Allowed},
		{member, Need{MinRole: identity.RoleAdmin}, Denied},
		{adminKey, Need{MinRole: identity.RoleAdmin}, Allowed},
		{bot, Need{MinRole: identity.RoleAdmin}, Denied},
		{bot, Need{Person: true}, Denied},
		{bot, Need{Member: true}, Allowed},
		{adminKey, Need{SessionOnly: true}, Denied},
		{owner, Need{SessionOnly: true}, Allowed},
		{bot, Need{Resource: Webhooks, Action: Delete}, Allowed},
	}
	for _, tt := range tests {
		if got := Check(tt.p, tt.n); got != tt.want {
			t.Errorf("Check(%s/%s, %s) = %v, want %v", tt.p.Kind, tt.p.Role, tt.n, got, tt.want)
		}
	}
}
