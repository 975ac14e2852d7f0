package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// tool is the path of name, or skips the test when it is absent and the
// environment variable require does not ask for it.
func tool(t *testing.T, name, require string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(require) == "1" {
			t.Fatalf("%s is required (%s=1) but not found: %v", name, require, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	buildOut  []byte
)

// mustBuildH0p builds cmd/h0p once for the package's tests.
func mustBuildH0p(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "h0p-deploy-test"); buildErr != nil {
			return
		}
		buildOut, buildErr = exec.Command("go", "build", "-o", filepath.Join(buildDir, "h0p"), "../cmd/h0p").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build h0p: %v\n%s", buildErr, buildOut)
	}
	return filepath.Join(buildDir, "h0p")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

var helpFlag = regexp.MustCompile(`(?m)^\s+--([a-z0-9-]+) \((H0P_[A-Z0-9_]+)\)`)

// mustFlags is what `h0p <command...> --help` lists: flag → its variable.
func mustFlags(t *testing.T, bin string, command ...string) map[string]string {
	t.Helper()
	out, _ := exec.Command(bin, append(command, "--help")...).CombinedOutput() // help exits 0 or 2 by command
	flags := map[string]string{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = m[2]
	}
	if len(flags) == 0 {
		t.Fatalf("h0p %s --help lists no flags:\n%s", strings.Join(command, " "), out)
	}
	return flags
}

// knownVariables are the H0P_* variables some command reads, with their
// _FILE forms.
func knownVariables(t *testing.T, bin string) map[string]bool {
	t.Helper()
	vars := map[string]bool{
		"H0P_API_KEY": true, "H0P_API_KEY_FILE": true, "H0P_API_URL": true, // the API client commands
		"H0P_PASSWORD": true, // admin set-password
	}
	for _, cmd := range [][]string{{"control"}, {"edge"}, {"dev"}, {"admin", "certs"}, {"admin", "create-org"}, {"admin", "status"}, {"admin", "remove-node"}, {"admin", "backup"}, {"admin", "restore"}} {
		for _, v := range mustFlags(t, bin, cmd...) {
			vars[v], vars[v+"_FILE"] = true, true
		}
	}
	return vars
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func mustAlerts(t *testing.T) []rule {
	t.Helper()
	var f ruleFile
	if err := yaml.Unmarshal(mustRead(t, "prometheus/rules.yml"), &f); err != nil {
		t.Fatal(err)
	}
	var alerts []rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r)
			}
		}
	}
	if len(alerts) == 0 {
		t.Fatal("rules.yml has no alerts")
	}
	return alerts
}

func TestPrometheusRulesPassPromtool(t *testing.T) {
	promtool := tool(t, "promtool", "H0P_REQUIRE_PROMTOOL")
	for _, args := range [][]string{
		{"check", "rules", "prometheus/rules.yml"},
		{"test", "rules", "prometheus/rules_test.yml"},
		{"check", "config", "prometheus/prometheus.yml"},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) { mustRun(t, promtool, args...) })
	}
}

// Every alert waits (for:), says how bad it is, says what happened, has a
// promtool test that fires it and a runbook in the README.
func TestAlertsAreComplete(t *testing.T) {
	tests := string(mustRead(t, "prometheus/rules_test.yml"))
	readme := string(mustRead(t, "README.md"))
	for _, a := range mustAlerts(t) {
		t.Run(a.Alert, func(t *testing.T) {
			if a.For == "" {
				t.Error("no for:")
			}
			if s := a.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("severity %q, want warning or critical", s)
			}
			for _, k := range []string{"summary", "description"} {
				if a.Annotations[k] == "" {
					t.Errorf("no %s annotation", k)
				}
			}
			if !regexp.MustCompile(`alertname: ` + a.Alert + `\n\s+exp_alerts:\n\s+- exp_labels`).MatchString(tests) {
				t.Error("no test in rules_test.yml expects it to fire")
			}
			if !strings.Contains(readme, "\n### "+a.Alert+"\n") {
				t.Errorf("no runbook: README.md has no heading ### %s", a.Alert)
			}
		})
	}
}

func TestGrafanaDashboard(t *testing.T) {
	var d map[string]any
	if err := json.Unmarshal(mustRead(t, "grafana/h0p.json"), &d); err != nil {
		t.Fatal(err)
	}
	if v, _ := d["schemaVersion"].(float64); v < 39 {
		t.Errorf("schemaVersion %v, want at least 39", d["schemaVersion"])
	}
	vars, _ := d["templating"].(map[string]any)["list"].([]any)
	if !slices.ContainsFunc(vars, func(v any) bool {
		m := v.(map[string]any)
		return m["name"] == "datasource" && m["type"] == "datasource" && m["query"] == "prometheus"
	}) {
		t.Error("no datasource variable of type prometheus")
	}
	// Every datasource reference goes through the variable, so the dashboard
	// imports into any Grafana; only the built-in annotations name Grafana's.
	var walk func(path string, v any)
	refs := 0
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "datasource" {
					ds, ok := x.(map[string]any)
					if !ok || (ds["uid"] != "${datasource}" && ds["uid"] != "-- Grafana --") {
						t.Errorf("%s.datasource = %v, want uid ${datasource}", path, x)
					}
					refs++
				}
				walk(path+"."+k, x)
			}
		case []any:
			for _, x := range v {
				walk(path+"[]", x)
			}
		}
	}
	walk("", d)
	panels, _ := d["panels"].([]any)
	titles := map[string]bool{}
	for _, p := range panels {
		p := p.(map[string]any)
		if p["type"] == "row" {
			titles[p["title"].(string)] = true
			continue
		}
		if _, ok := p["datasource"]; !ok {
			t.Errorf("panel %q has no datasource", p["title"])
		}
		targets, _ := p["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %q has no queries", p["title"])
		}
		for _, tg := range targets {
			if e, _ := tg.(map[string]any)["expr"].(string); e == "" {
				t.Errorf("panel %q has a query without expr", p["title"])
			}
		}
	}
	for _, want := range []string{"Fleet overview", "Edges", "Clicks pipeline", "Raft and replication", "API", "Webhooks and certificates"} {
		if !titles[want] {
			t.Errorf("no row %q", want)
		}
	}
}

var execStart = regexp.MustCompile(`(?m)^ExecStart=(\S+) (\S+)(.*)$`)

// The units are valid for systemd, and every flag and variable they pass
// is one the binary has. systemd-analyze verify needs ExecStart's program
// to exist: it checks copies of the units whose ExecStart names the binary
// just built instead of /usr/local/bin/h0p, nothing else changed.
func TestSystemdUnits(t *testing.T) {
	bin := mustBuildH0p(t)
	vars := knownVariables(t, bin)
	for _, tt := range []struct{ unit, command string }{
		{"h0p-control.service", "control"},
		{"h0p-edge.service", "edge"},
	} {
		t.Run(tt.unit, func(t *testing.T) {
			unit := string(mustRead(t, filepath.Join("systemd", tt.unit)))
			m := execStart.FindStringSubmatch(unit)
			if m == nil || m[1] != "/usr/local/bin/h0p" || m[2] != tt.command {
				t.Fatalf("ExecStart %q, want /usr/local/bin/h0p %s …", m, tt.command)
			}
			flags := mustFlags(t, bin, tt.command)
			for _, f := range regexp.MustCompile(`--([a-z0-9-]+)`).FindAllStringSubmatch(m[3], -1) {
				if _, ok := flags[f[1]]; !ok {
					t.Errorf("ExecStart passes --%s, which h0p %s does not have", f[1], tt.command)
				}
			}
			for _, v := range regexp.MustCompile(`H0P_[A-Z0-9_]+`).FindAllString(unit, -1) {
				if !vars[v] {
					t.Errorf("%s names %s, which no h0p command reads", tt.unit, v)
				}
			}
			for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
				"SystemCallFilter=@system-service", "RestrictAddressFamilies=", "LimitNOFILE=", "StateDirectory="} {
				if !strings.Contains(unit, "\n"+want) {
					t.Errorf("no %s", want)
				}
			}

			analyze := tool(t, "systemd-analyze", "H0P_REQUIRE_SYSTEMD_ANALYZE")
			dir := t.TempDir()
			copyPath := filepath.Join(dir, tt.unit)
			if err := os.WriteFile(copyPath, []byte(strings.Replace(unit, "ExecStart=/usr/local/bin/h0p ", "ExecStart="+bin+" ", 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			// verify exits 0 on unknown keys and bad values, printing a
			// warning: any output about the unit is a failure.
			out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
			if err != nil || bytes.Contains(out, []byte(tt.unit)) {
				t.Errorf("systemd-analyze verify %s: %v\n%s", tt.unit, err, out)
			}
		})
	}
}

var (
	h0pCommand = regexp.MustCompile(`(?m)^(?:[A-Z0-9_]+=\S+ )*(?:sudo -u h0p )?(?:\./|/usr/local/bin/)?h0p ((?:admin )?[a-z-]+)((?: .*)?)$`)
	longFlag   = regexp.MustCompile(`(?:^|\s)--([a-z0-9-]+)`)
)

// Every h0p command line in README.md runs a command the binary has, with
// flags it has, and every H0P_* variable it names is read by some command.
func TestREADMECommandsMatchTheBinary(t *testing.T) {
	bin := mustBuildH0p(t)
	readme := string(mustRead(t, "README.md"))
	vars := knownVariables(t, bin)
	lines := h0pCommand.FindAllStringSubmatch(readme, -1)
	if len(lines) < 2 {
		t.Fatalf("found %d h0p command lines in README.md", len(lines))
	}
	flagsOf := map[string]map[string]string{}
	for _, m := range lines {
		command := m[1]
		if flagsOf[command] == nil {
			flagsOf[command] = mustFlags(t, bin, strings.Fields(command)...)
		}
		for _, f := range longFlag.FindAllStringSubmatch(m[2], -1) {
			if _, ok := flagsOf[command][f[1]]; !ok {
				t.Errorf("README: %q: h0p %s has no --%s", m[0], command, f[1])
			}
		}
	}
	// Flags named anywhere else (prose, unit excerpts, podman lines) are
	// flags of some command.
	anyFlag := map[string]bool{}
	for _, cmd := range [][]string{{"control"}, {"edge"}, {"dev"}, {"admin", "certs"}, {"admin", "create-org"},
		{"admin", "status"}, {"admin", "remove-node"}, {"admin", "backup"}, {"admin", "restore"}} {
		for f := range mustFlags(t, bin, cmd...) {
			anyFlag[f] = true
		}
	}
	for _, f := range regexp.MustCompile(`--([a-z0-9]+(?:-[a-z0-9*]+)*)`).FindAllStringSubmatch(readme, -1) {
		if !anyFlag[f[1]] && !strings.Contains(f[1], "*") && !nonH0pFlags[f[1]] {
			t.Errorf("README names --%s, which no h0p command has", f[1])
		}
	}
	for _, v := range regexp.MustCompile(`H0P_[A-Z0-9_]+`).FindAllString(readme, -1) {
		if !vars[v] && !strings.HasPrefix(v, "H0P_REQUIRE_") {
			t.Errorf("README names %s, which no h0p command reads", v)
		}
	}
}

// nonH0pFlags are the flags of other programs the README's commands use.
var nonH0pFlags = map[string]bool{"system": true, "no-create-home": true, "shell": true, "rm": true, "now": true,
	"user": true, "entrypoint": true, "tags": true, "help": true}

func TestContainerfile(t *testing.T) {
	f := string(mustRead(t, "Containerfile"))
	for _, want := range []string{"CGO_ENABLED=0", "\nFROM scratch", "\nUSER 65532:65532", "\nENTRYPOINT [\"/h0p\"]"} {
		if !strings.Contains(f, want) {
			t.Errorf("Containerfile: no %q", want)
		}
	}
	if out, err := exec.Command("bash", "-n", "image.sh").CombinedOutput(); err != nil {
		t.Errorf("image.sh: %v\n%s", err, out)
	}
}
