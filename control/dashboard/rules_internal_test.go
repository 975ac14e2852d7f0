package dashboard

import (
	"strings"
	"testing"
)

// TestEditRules: the form's rule buttons add, move and remove rules,
// and name the control to focus next; an op that is none changes
// nothing.
func TestEditRules(t *testing.T) {
	three := func() []ruleForm { return []ruleForm{{URL: "a"}, {URL: "b"}, {URL: "c"}} }
	for _, tt := range []struct {
		op, want, focus string
	}{
		{"add", "a b c ", "rules[3].url"},
		{"up 1", "b a c", "rules[0].url"},
		{"up 2", "a c b", "up 1"},
		{"up 0", "a b c", ""},
		{"down 0", "b a c", "down 1"},
		{"down 1", "a c b", "rules[2].url"},
		{"down 2", "a b c", ""},
		{"remove 1", "a c", "add"},
		{"remove 3", "a b c", ""},
		{"remove -1", "a b c", ""},
		{"remove x", "a b c", ""},
		{"swap 1", "a b c", ""},
	} {
		t.Run(tt.op, func(t *testing.T) {
			rules, focus := editRules(three(), tt.op)
			var urls []string
			for _, r := range rules {
				urls = append(urls, r.URL)
			}
			if got := strings.Join(urls, " "); got != tt.want || focus != tt.focus {
				t.Errorf("got %q, focus %q; want %q, focus %q", got, focus, tt.want, tt.focus)
			}
		})
	}
	full := make([]ruleForm, maxRules)
	if rules, focus := editRules(full, "add"); len(rules) != maxRules || focus != "" {
		t.Errorf("add to %d rules: %d rules, focus %q", maxRules, len(rules), focus)
	}
}
