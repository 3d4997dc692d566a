// Package deploy_test checks the operations kit against the code it ships:
// the dashboard asks only for metrics Herald exports, the systemd unit and
// the container files keep the properties docs/operations.md promises. No
// Docker engine is needed; systemd-analyze, when present, verifies the unit.
package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/heraldhq/herald/redis"
	"github.com/heraldhq/herald/ws"
)

func read(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// exported returns the names of every metric a Herald node can export:
// the collectors' descriptions, and the gauges cmd/herald declares itself.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	descs := make(chan *prometheus.Desc, 256)
	var cs []prometheus.Collector
	cs = append(cs, ws.NewMetrics().Collectors()...)
	cs = append(cs, redis.NewMetrics().Collectors()...)
	cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	fqName := regexp.MustCompile(`fqName: "([a-z_:]+)"`)
	for _, c := range cs {
		go func() { c.Describe(descs); descs <- nil }()
		for d := <-descs; d != nil; d = <-descs {
			if m := fqName.FindStringSubmatch(d.String()); m != nil {
				names[m[1]] = true
			}
		}
	}
	declared := regexp.MustCompile(`Name:\s*"(herald_[a-z_]+)"`)
	files, err := filepath.Glob("../cmd/herald/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("cmd/herald sources: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		for _, m := range declared.FindAllStringSubmatch(read(t, f), -1) {
			names[m[1]] = true
		}
	}
	return names
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// TestDashboardMetricsExist reads every query of the Grafana dashboard and
// checks each metric it names is one Herald exports, so a renamed metric
// cannot leave a panel silently empty.
func TestDashboardMetricsExist(t *testing.T) {
	var dash struct {
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal([]byte(read(t, "grafana-dashboard.json")), &dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	have := exported(t)
	for _, want := range []string{"herald_connections", "herald_ws_disconnects_total", "go_goroutines", "process_open_fds"} {
		if !have[want] {
			t.Fatalf("the exported set lacks %s: the test's own lookup is broken", want)
		}
	}
	metric := regexp.MustCompile(`\b(?:herald|go|process)_[a-z_]+\b`)
	ids := map[int]bool{}
	used := map[string]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q is wider than the grid", p.Title)
			}
			if p.Type != "row" {
				if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q does not use the $datasource variable", p.Title)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
			}
			for _, tg := range p.Targets {
				for _, name := range metric.FindAllString(tg.Expr, -1) {
					base := name
					for _, suffix := range []string{"_sum", "_count", "_bucket"} {
						if b, ok := strings.CutSuffix(name, suffix); ok && have[b] {
							base = b
						}
					}
					used[base] = true
					if !have[base] {
						t.Errorf("panel %q queries %s, which Herald does not export", p.Title, name)
					}
				}
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	// What the operations guide tells operators to watch has a panel.
	for _, want := range []string{"herald_connections", "herald_users", "herald_ws_messages_in_total", "herald_ws_messages_out_total",
		"herald_ws_writes_total", "herald_ws_queue_overflows_total", "herald_ws_disconnects_total", "herald_ws_auth_failures_total",
		"herald_ws_heartbeat_timeouts_total", "go_memstats_heap_inuse_bytes", "process_open_fds"} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}

// directives parses a systemd unit into key -> values, in order.
func directives(unit string) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			out[k] = append(out[k], v)
		}
	}
	return out
}

// TestSystemdUnit checks the unit's promises: hardening, state directory,
// descriptor limit, restart, and a stop timeout beyond the drain.
func TestSystemdUnit(t *testing.T) {
	unit := read(t, "herald.service")
	d := directives(unit)
	want := map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "StateDirectory": "herald",
		"Restart": "on-failure", "KillSignal": "SIGTERM", "LimitNOFILE": "1048576", "ProtectHome": "yes",
		"PrivateTmp": "yes", "CapabilityBoundingSet": "",
	}
	for k, v := range want {
		if got := d[k]; len(got) == 0 || got[len(got)-1] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	env := map[string]string{}
	for _, e := range d["Environment"] {
		for _, kv := range strings.Fields(e) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	if !strings.HasPrefix(env["HERALD_DB_PATH"], "/var/lib/herald/") {
		t.Errorf("HERALD_DB_PATH %q is outside the StateDirectory, which is the only writable path", env["HERALD_DB_PATH"])
	}
	drain, err := time.ParseDuration(env["HERALD_SHUTDOWN_TIMEOUT"])
	if err != nil {
		t.Fatalf("HERALD_SHUTDOWN_TIMEOUT: %v", err)
	}
	stop, err := time.ParseDuration(d["TimeoutStopSec"][0])
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	if stop <= drain {
		t.Errorf("TimeoutStopSec %v does not leave room for the %v drain", stop, drain)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed; unit syntax not verified")
		return
	}
	// verify wants ExecStart and EnvironmentFile to exist: point them at
	// stand-ins in a copy.
	dir := t.TempDir()
	envFile := filepath.Join(dir, "herald.env")
	if err := os.WriteFile(envFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	copyUnit := strings.ReplaceAll(unit, "/usr/local/bin/herald", "/bin/true")
	copyUnit = strings.ReplaceAll(copyUnit, "/etc/herald/herald.env", envFile)
	unitFile := filepath.Join(dir, "herald.service")
	if err := os.WriteFile(unitFile, []byte(copyUnit), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", unitFile).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestContainerFiles checks the Dockerfile and compose file by reading them
// (no engine here): a static build on a minimal base as a non-root user,
// port 3007, a healthcheck that exists in the image, and a stop grace
// period beyond the drain.
func TestContainerFiles(t *testing.T) {
	df := read(t, "Dockerfile")
	var stages []string
	for _, line := range strings.Split(df, "\n") {
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, line)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("not a multi-stage build: %q", stages)
	}
	if final := stages[len(stages)-1]; !strings.Contains(final, "distroless/static") && !strings.Contains(final, "scratch") {
		t.Errorf("final stage %q is not a minimal base", final)
	}
	for _, want := range []string{"CGO_ENABLED=0", "EXPOSE 3007", "HEALTHCHECK", "STOPSIGNAL SIGTERM",
		"./cmd/herald", "./deploy/healthcheck", "/usr/local/bin/healthcheck"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(user) == 0 || strings.HasPrefix(user[len(user)-1][1], "0") || strings.HasPrefix(user[len(user)-1][1], "root") {
		t.Errorf("the image does not end as a non-root user: %v", user)
	}
	for _, pkg := range []string{"../cmd/herald/main.go", "healthcheck/main.go"} {
		if _, err := os.Stat(pkg); err != nil {
			t.Errorf("the Dockerfile builds a package that is missing: %v", err)
		}
	}

	compose := read(t, "compose.yaml")
	for _, want := range []string{"dockerfile: deploy/Dockerfile", `test: ["CMD", "/usr/local/bin/healthcheck"]`,
		"image: postgres:", "image: redis:", "DATABASE_URL: postgres://", "REDIS_URL: redis://", "condition: service_healthy"} {
		if !strings.Contains(compose, want) {
			t.Errorf("compose.yaml lacks %q", want)
		}
	}
	grace := regexp.MustCompile(`stop_grace_period:\s*(\S+)`).FindStringSubmatch(compose)
	drain := regexp.MustCompile(`HERALD_SHUTDOWN_TIMEOUT:\s*(\S+)`).FindStringSubmatch(compose)
	if grace == nil || drain == nil {
		t.Fatal("compose.yaml sets no stop_grace_period or HERALD_SHUTDOWN_TIMEOUT")
	}
	g, err1 := time.ParseDuration(grace[1])
	dr, err2 := time.ParseDuration(drain[1])
	if err1 != nil || err2 != nil || g <= dr {
		t.Errorf("stop_grace_period %s does not leave room for the %s drain", grace[1], drain[1])
	}
	if strings.Contains(compose, "\t") {
		t.Error("compose.yaml contains a tab, which YAML does not allow for indentation")
	}
}
