package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// setting is one configuration knob: its environment name (the design
// document's where it has one), its flag, its default and what it does. The
// table drives flags, environment, the config file and --help alike.
type setting struct {
	env, flag, def, help string
}

// settings lists every setting in the order help shows them; groups fill
// the typed Config from them. Both grow only through addGroup.
var (
	settings []setting
	groups   []func(p *parser, c *Config)
)

// addGroup registers the settings of one part of Herald and the function
// that reads them, through p, into that part's struct of c. Reading checks
// each value as it is read; checks that span settings of several groups
// belong to Config.check, which runs after every group.
func addGroup(s []setting, parse func(p *parser, c *Config)) {
	settings = append(settings, s...)
	groups = append(groups, parse)
}

// Config is Herald's whole configuration, typed: one struct per part,
// resolved in the order flags > environment > config file > default and
// checked in one pass before anything opens (loadConfig).
type Config struct {
	Server   ServerConfig
	TLS      TLSConfig
	Auth     AuthConfig
	WS       WSConfig
	Store    StoreConfig
	Cluster  ClusterConfig
	Mode     ModeConfig
	Delivery DeliveryConfig
	Mobile   MobileConfig // mobile.go
	Topics   TopicsConfig

	// Warnings are what the configuration did not refuse but the operator
	// should hear about, such as unknown keys in the config file; serve
	// logs them.
	Warnings []string
}

// ServerConfig is the listener and the process around it.
type ServerConfig struct {
	Port            int
	Host            string
	ShutdownTimeout time.Duration
	DebugAddr       string
	EventsFile      string
	LogLevel        slog.Level
	LogFormat       string // text or json
}

// StoreConfig names the store: PostgreSQL when DatabaseURL is set, else the
// SQLite file at DBPath.
type StoreConfig struct {
	DBPath      string
	DatabaseURL string
	// MemoryUsers bounds the users whose unread counts and preferences the
	// SQLite store keeps in memory; 0 keeps none.
	MemoryUsers int
}

func init() {
	addGroup(serverSettings, parseServer)
	addGroup(tlsSettings, parseTLS)
	addGroup(authSettings, parseAuth)
	addGroup(wsSettings, parseWS)
	addGroup(storeSettings, parseStore)
	addGroup(clusterSettings, parseCluster)
	addGroup(processSettings, parseProcess)
	addGroup(modeSettings, parseMode)
	addGroup(deliverySettings, parseDelivery)
	addGroup(topicSettings, parseTopics)
}

var serverSettings = []setting{
	{"PORT", "port", "3007", "TCP port for HTTP and WebSocket (0: any free port)"},
	{"HERALD_HOST", "host", "", "address to listen on (empty: all interfaces)"},
}

var storeSettings = []setting{
	{"HERALD_DB_PATH", "db", "herald.db", "SQLite database file (the embedded default store)"},
	{"DATABASE_URL", "database-url", "", "PostgreSQL URL; when set, used instead of SQLite"},
	{"HERALD_DB_MEMORY_USERS", "db-memory-users", "500000", "users whose unread counts and preferences the SQLite store keeps in memory (0: none)"},
}

var processSettings = []setting{
	{"HERALD_EVENTS_FILE", "events-file", "", "JSON file of extra domain-event templates"},
	{"HERALD_SHUTDOWN_TIMEOUT", "shutdown-timeout", "10s", "how long shutdown waits for queued messages to flush"},
	{"HERALD_DEBUG_ADDR", "debug-addr", "", "address of a separate listener serving Go's profiler at /debug/pprof/ (empty: off; keep it on loopback)"},
	{"HERALD_LOG_LEVEL", "log-level", "info", "debug, info, warn or error"},
	{"HERALD_LOG_FORMAT", "log-format", "text", "text or json"},
}

func parseServer(p *parser, c *Config) {
	c.Server.Port = p.port("PORT")
	c.Server.Host = p.str("HERALD_HOST")
}

func parseStore(p *parser, c *Config) {
	c.Store.DBPath = p.str("HERALD_DB_PATH")
	c.Store.DatabaseURL = p.str("DATABASE_URL")
	c.Store.MemoryUsers = p.int("HERALD_DB_MEMORY_USERS", 0, 100_000_000)
	// A URL of another database is named as such, by its scheme only: the
	// rest may hold a password.
	if scheme, _, ok := strings.Cut(c.Store.DatabaseURL, "://"); ok && scheme != "postgres" && scheme != "postgresql" {
		p.fail("DATABASE_URL", "has an unsupported scheme %q: Herald stores in PostgreSQL (postgres://…) or, without DATABASE_URL, in SQLite (HERALD_DB_PATH)", clipScheme(scheme))
	}
}

// clipScheme bounds what an error quotes of a URL's scheme.
func clipScheme(s string) string {
	if len(s) > 20 || strings.ContainsAny(s, "@:/ ") {
		return "?"
	}
	return s
}

func parseProcess(p *parser, c *Config) {
	c.Server.EventsFile = p.str("HERALD_EVENTS_FILE")
	c.Server.ShutdownTimeout = p.dur("HERALD_SHUTDOWN_TIMEOUT", 0)
	c.Server.DebugAddr = p.str("HERALD_DEBUG_ADDR")
	if err := c.Server.LogLevel.UnmarshalText([]byte(p.str("HERALD_LOG_LEVEL"))); err != nil {
		p.fail("HERALD_LOG_LEVEL", "must be debug, info, warn or error")
	}
	c.Server.LogFormat = p.oneOf("HERALD_LOG_FORMAT", "text", "json")
}

// check runs the checks that span groups, after every group has read its
// settings. A check skips settings that already failed, so one typo gives
// one error.
func (c *Config) check(p *parser) {
	c.checkMode(p)
	c.checkAuth(p)
	c.checkWS(p)
	c.checkTLS(p)
	c.checkCluster(p)
}

// loadConfig resolves every setting for args (after the subcommand) and
// reads them into a Config, reporting every bad setting at once, each by
// name.
func loadConfig(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	vals := make(map[string]*string, len(settings))
	for _, s := range settings {
		vals[s.env] = fs.String(s.flag, "", fmt.Sprintf("%s (env %s, default %q)", s.help, s.env, s.def))
	}
	file := fs.String("config", getenv("HERALD_CONFIG"), "file of KEY=VALUE lines with the environment names above (env HERALD_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	var fromFile map[string]string
	var warnings []string
	if *file != "" {
		var err error
		if fromFile, warnings, err = readConfigFile(*file); err != nil {
			return Config{}, err
		}
	}
	raw := make(map[string]string, len(settings))
	for _, s := range settings {
		v := s.def
		if fv, ok := fromFile[s.env]; ok {
			v = fv
		}
		if ev := getenv(s.env); ev != "" {
			v = ev
		}
		if fl := *vals[s.env]; fl != "" {
			v = fl
		}
		raw[s.env] = v
	}
	c, err := parseConfig(raw)
	c.Warnings = append(warnings, c.Warnings...)
	return c, err
}

// parseConfig reads resolved setting values into a Config.
func parseConfig(raw map[string]string) (Config, error) {
	p := &parser{raw: raw, failed: map[string]bool{}}
	var c Config
	for _, g := range groups {
		g(p, &c)
	}
	c.check(p)
	return c, errors.Join(p.errs...)
}

// knownSetting reports whether key is a setting's environment name.
func knownSetting(key string) bool {
	for _, s := range settings {
		if s.env == key {
			return true
		}
	}
	return false
}

// itoa is strconv.Itoa, short for the places that print a port.
func itoa(n int) string { return strconv.Itoa(n) }
