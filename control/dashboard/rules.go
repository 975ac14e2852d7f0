package dashboard

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/h0p/h0p/control/apiclient"
)

// maxRules is the most rules a link has (the API's limit): the form
// offers to add no more. maxFormRules bounds the rules a form post is
// read for (more than maxRules are the API's refusal to show).
const (
	maxRules     = 50
	maxFormRules = 60
)

// ruleDevices are the devices a rule may name (the API's list), and
// their labels.
var ruleDevices = []string{"ios", "android", "mobile", "desktop"}

var deviceLabels = map[string]string{"ios": "iOS", "android": "Android", "mobile": "Mobile", "desktop": "Desktop"}

// deviceChoice is a device's checkbox in a rule.
type deviceChoice struct {
	Value, Label string
	Checked      bool
}

// DeviceChoices are the rule's device checkboxes.
func (rf ruleForm) DeviceChoices() []deviceChoice {
	var cs []deviceChoice
	for _, d := range ruleDevices {
		cs = append(cs, deviceChoice{Value: d, Label: deviceLabels[d], Checked: slices.Contains(rf.Devices, d)})
	}
	return cs
}

// ruleForm is one targeting rule as the link form holds it: lists
// separated by commas, query parameters one "name=value" a line (a name
// alone: present with any value), times in the browser's timezone.
type ruleForm struct {
	URL                            string
	Devices                        []string
	OS, Browser, Country, Language string
	Query                          string
	After, Before                  string
	// Held is the rule as the API holds it (JSON), sent back in a
	// hidden field: while the fields still show it, it is saved as it
	// is, with what they do not show (a time's seconds and its side of a
	// daylight saving change, spaces around a query value, a comma in an
	// entry, the order of the devices).
	Held string
	// Name is the prefix of its fields' names, the API's ("rules[2]");
	// I its index, N its number on the form (I+1); Last whether it is
	// the last.
	Name string
	I, N int
	Last bool
}

// blank reports whether nothing was typed in the rule: such a rule (one
// added and left empty) is left out when the link is saved.
func (rf ruleForm) blank() bool {
	return rf.URL == "" && len(rf.Devices) == 0 && rf.OS == "" && rf.Browser == "" && rf.Country == "" &&
		rf.Language == "" && rf.Query == "" && rf.After == "" && rf.Before == ""
}

func ruleFormOf(ru apiclient.Rule, loc *time.Location) ruleForm {
	rf := ruleForm{URL: ru.URL, Devices: ru.Device, OS: strings.Join(ru.OS, ", "),
		Browser: strings.Join(ru.Browser, ", "), Country: strings.Join(ru.Country, ", "),
		Language: strings.Join(ru.Language, ", ")}
	var lines []string
	for _, name := range slices.Sorted(maps.Keys(ru.Query)) {
		if v := ru.Query[name]; v != "" {
			lines = append(lines, name+"="+v)
		} else {
			lines = append(lines, name)
		}
	}
	rf.Query = strings.Join(lines, "\n")
	if ru.After != nil {
		rf.After = ru.After.In(loc).Format(datetimeLocal)
	}
	if ru.Before != nil {
		rf.Before = ru.Before.In(loc).Format(datetimeLocal)
	}
	if held, err := json.Marshal(ru); err == nil {
		rf.Held = string(held)
	}
	return rf
}

// rulesFrom are the rules of a posted link form, in their order, blank
// ones included (the person may be filling them in).
func rulesFrom(r *http.Request) []ruleForm {
	var rules []ruleForm
	for i := range maxFormRules {
		p := fmt.Sprintf("rules[%d]", i)
		if _, ok := r.PostForm[p+".url"]; !ok {
			break
		}
		v := func(name string) string { return strings.TrimSpace(r.PostFormValue(p + "." + name)) }
		rf := ruleForm{URL: v("url"), OS: v("os"), Browser: v("browser"), Country: v("country"),
			Language: v("language"), Query: v("query"), After: v("after"), Before: v("before"), Held: v("held")}
		for _, d := range r.PostForm[p+".device"] {
			if slices.Contains(ruleDevices, d) && !slices.Contains(rf.Devices, d) {
				rf.Devices = append(rf.Devices, d)
			}
		}
		rules = append(rules, rf)
	}
	return rules
}

// editRules applies a rule button of the form to rules: "add", or "up",
// "down" or "remove" and a rule's index. It answers the rules and the
// name of the control to focus next ("" for an op it does not know).
func editRules(rules []ruleForm, op string) ([]ruleForm, string) {
	verb, arg, _ := strings.Cut(op, " ")
	if verb == "add" {
		if len(rules) >= maxRules {
			return rules, ""
		}
		rules = append(rules, ruleForm{})
		return rules, fmt.Sprintf("rules[%d].url", len(rules)-1)
	}
	i, err := strconv.Atoi(arg)
	if err != nil || i < 0 || i >= len(rules) {
		return rules, ""
	}
	switch verb {
	case "up":
		if i > 0 {
			rules[i-1], rules[i] = rules[i], rules[i-1]
			return rules, moved("up", i-1, len(rules))
		}
	case "down":
		if i+1 < len(rules) {
			rules[i], rules[i+1] = rules[i+1], rules[i]
			return rules, moved("down", i+1, len(rules))
		}
	case "remove":
		return slices.Delete(rules, i, i+1), "add"
	}
	return rules, ""
}

// moved is the control to focus after rule i moved (of n rules): its
// button that moved it, when it still has one, or its URL.
func moved(dir string, i, n int) string {
	if dir == "up" && i > 0 || dir == "down" && i < n-1 {
		return fmt.Sprintf("%s %d", dir, i)
	}
	return fmt.Sprintf("rules[%d].url", i)
}

// numberRules names and numbers rules for the template.
func numberRules(rules []ruleForm) {
	for i := range rules {
		rules[i].Name, rules[i].I, rules[i].N, rules[i].Last = fmt.Sprintf("rules[%d]", i), i, i+1, i == len(rules)-1
	}
}

// ruleFields are the names of the fields of n rules, beside which the
// API's errors on them are shown.
func ruleFields(n int) []string {
	fields := []string{"rules"}
	for i := range n {
		p := fmt.Sprintf("rules[%d]", i)
		fields = append(fields, p)
		for _, f := range []string{"url", "device", "os", "browser", "country", "language", "query", "after", "before"} {
			fields = append(fields, p+"."+f)
		}
	}
	return fields
}

// rule is the API's rule of rf, the rule named name on the form; a time
// or query line that is not one is the form's own error, by field.
func (rf ruleForm) rule(name string, loc *time.Location) (apiclient.Rule, map[string]string) {
	if held, ok := rf.held(loc); ok {
		return held, nil
	}
	ru := apiclient.Rule{URL: rf.URL, Device: rf.Devices, OS: list(rf.OS), Browser: list(rf.Browser),
		Country: list(rf.Country), Language: list(rf.Language)}
	for line := range strings.Lines(rf.Query) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		if k = strings.TrimSpace(k); k == "" {
			return ru, map[string]string{name + ".query": "takes one parameter per line: a name, or a name, = and a value"}
		}
		if ru.Query == nil {
			ru.Query = map[string]string{}
		}
		ru.Query[k] = strings.TrimSpace(v)
	}
	for _, t := range []struct {
		field, value string
		dst          **time.Time
	}{{"after", rf.After, &ru.After}, {"before", rf.Before, &ru.Before}} {
		if t.value == "" {
			continue
		}
		at, err := time.ParseInLocation(datetimeLocal, t.value, loc)
		if err != nil {
			return ru, map[string]string{name + "." + t.field: "must be a date and time"}
		}
		*t.dst = &at
	}
	return ru, nil
}

// held is the rule the API holds (rf.Held), when rf's fields still show
// it as ruleFormOf does.
func (rf ruleForm) held(loc *time.Location) (apiclient.Rule, bool) {
	var ru apiclient.Rule
	if rf.Held == "" || json.Unmarshal([]byte(rf.Held), &ru) != nil {
		return ru, false
	}
	shown := ruleFormOf(ru, loc)
	// A browser posts a text area's lines ended by CR LF.
	norm := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }
	set := func(vs []string) []string { return slices.Compact(slices.Sorted(slices.Values(vs))) }
	for _, f := range [][2]string{{shown.URL, rf.URL}, {shown.OS, rf.OS}, {shown.Browser, rf.Browser},
		{shown.Country, rf.Country}, {shown.Language, rf.Language}, {shown.Query, rf.Query},
		{shown.After, rf.After}, {shown.Before, rf.Before}} {
		if norm(f[0]) != norm(f[1]) {
			return ru, false
		}
	}
	return ru, slices.Equal(set(shown.Devices), set(rf.Devices))
}

// list is the entries of a comma-separated list, nil when none.
func list(s string) []string {
	var out []string
	for e := range strings.SplitSeq(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// ruleSummary says in a line which visitors ru sends where, for the
// link's page.
func ruleSummary(ru apiclient.Rule) string {
	var conds []string
	for _, c := range []struct {
		name string
		vs   []string
	}{{"device", ru.Device}, {"OS", ru.OS}, {"browser", ru.Browser}, {"country", ru.Country}, {"language", ru.Language}} {
		if len(c.vs) > 0 {
			conds = append(conds, c.name+" "+strings.Join(c.vs, " or "))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(ru.Query)) {
		if v := ru.Query[name]; v != "" {
			conds = append(conds, "query "+name+"="+v)
		} else {
			conds = append(conds, "query has "+name)
		}
	}
	const at = "2006-01-02 15:04 UTC"
	if ru.After != nil {
		conds = append(conds, "from "+ru.After.UTC().Format(at))
	}
	if ru.Before != nil {
		conds = append(conds, "until "+ru.Before.UTC().Format(at))
	}
	return strings.Join(conds, ", ") + " → " + ru.URL
}
