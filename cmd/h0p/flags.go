package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/ratelimit"
)

// newFlags makes a flag set whose --help lists every flag with its H0P_*
// environment variable.
func newFlags(name, summary string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: h0p %s [flags]\n\n%s\n\nFlags (each also read from the environment variable shown, or from the file\n"+
			"that variable with _FILE appended names, for secrets such as --database-url or --smtp-url):\n", name, summary)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  --%s (%s)\n    \t%s", f.Name, envName(f.Name), f.Usage)
			if f.DefValue != "" {
				fmt.Fprintf(out, " (default %q)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
	return fs
}

func envName(flagName string) string {
	return "H0P_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args; flags not given there are taken from the
// environment (flags win over environment, environment over defaults): the
// variable H0P_X, or else the contents of the file H0P_X_FILE names (one
// trailing line break dropped), so secrets need not sit in the process's
// arguments or environment.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name, v := envName(f.Name), getenv(envName(f.Name))
		if file := getenv(name + "_FILE"); v == "" && file != "" {
			b, e := os.ReadFile(file)
			if e != nil {
				err = fmt.Errorf("%s_FILE: %w", name, e)
				return
			}
			name, v = name+"_FILE", strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		}
		if v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	return err
}

// splitList reads a comma-separated flag value, blanks trimmed.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// slugFlags shape random slugs.
type slugFlags struct {
	Length      int
	NoLookalike bool
}

func (f *slugFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.Length, "slug-length", 7, "length of random slugs (4 to 32)")
	fs.BoolVar(&f.NoLookalike, "slug-no-lookalike", false, "random slugs without characters that are easy to misread (0 O 1 l I)")
}

func (f slugFlags) check() error {
	if f.Length < 4 || f.Length > 32 {
		return fmt.Errorf("--slug-length %d: must be 4 to 32", f.Length)
	}
	return nil
}

// parsePrefixes reads comma-separated CIDRs (or single addresses).
func parsePrefixes(flagName, s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("--%s: %q is not an address or CIDR", flagName, part)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("--%s: %q is not an address or CIDR", flagName, part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// registerRateFlags adds the API rate-limit flags (the product's 5/s and
// 100/min by default; benchmarks and load tests raise them).
func registerRateFlags(fs *flag.FlagSet, l *ratelimit.Limits) {
	fs.IntVar(&l.PerSecond, "rate-per-second", ratelimit.DefaultLimits.PerSecond, "API requests per second per key, user or client IP")
	fs.IntVar(&l.PerMinute, "rate-per-minute", ratelimit.DefaultLimits.PerMinute, "API requests per minute per key, user or client IP")
}

// redisFlags name the Redis that keeps the API's rate limits, shared by the
// control nodes, and what the API does while it does not answer.
type redisFlags struct {
	URL  string
	Fail string // "open" (also when empty) or "closed"
}

func (f *redisFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.URL, "redis-url", "", "Redis that keeps the API's rate limits, shared by all control nodes: redis[s]://[[user]:password@]host[:port][/db] "+
		"(empty: each node limits on its own, in memory)")
	fs.StringVar(&f.Fail, "redis-fail", "open", "while --redis-url does not answer: open lets API requests through unlimited, closed refuses them with 503")
}

// apply sets where cfg keeps its rate limits.
func (f redisFlags) apply(cfg *control.Config) error {
	switch f.Fail {
	case "", "open", "closed":
	default:
		return fmt.Errorf("--redis-fail %q: must be open or closed", f.Fail)
	}
	cfg.RateLimitRedisURL, cfg.RateLimitFailClosed = f.URL, f.Fail == "closed"
	if f.URL != "" && cfg.Logger != nil {
		// go-redis logs each failed dial (every request while Redis is
		// down); the limiter already logs an outage once, at warn.
		redis.SetLogger(redisLog{cfg.Logger.With("subsystem", "redis")})
	}
	return nil
}

// redisLog takes go-redis's log lines at debug level.
type redisLog struct{ logger *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.logger.DebugContext(ctx, fmt.Sprintf(format, v...))
}

// registerMCPFlag adds the origins whose pages may call the MCP endpoint.
func registerMCPFlag(fs *flag.FlagSet, origins *string) {
	fs.StringVar(origins, "mcp-allowed-origins", "", "comma-separated origins (scheme://host[:port]) whose web pages may call /mcp besides the API's public URL's; "+
		"requests without an Origin header (desktop and CLI clients) are always let through")
}

// registerDashboardFlag adds the switch of the web dashboard (on by
// default).
func registerDashboardFlag(fs *flag.FlagSet, on *bool) {
	fs.BoolVar(on, "dashboard", true, "serve the web dashboard at / on the API address (--dashboard=false: the API only)")
}

// registerAnalyticsFlag adds the choice of the click store's engine.
func registerAnalyticsFlag(fs *flag.FlagSet, clickhouseURL *string) {
	fs.StringVar(clickhouseURL, "analytics-clickhouse-url", "", "ClickHouse HTTP interface for the click store, shared by all control nodes: "+
		"http[s]://[user:password@]host:8123/?database=name (empty: PostgreSQL with --database-url, else Pebble in --data)")
}

// storeFlags name a control store and the pepper its keys were made with:
// every command that opens a control store has them (h0p control, and the
// admin commands, which also take --data).
type storeFlags struct {
	DatabaseURL string
	PepperFile  string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.DatabaseURL, "database-url", "", "PostgreSQL URL shared by all control nodes (empty: SQLite in --data, one control node only)")
	fs.StringVar(&f.PepperFile, "pepper-file", "", "API-key pepper file shared by all control nodes, the one the store's keys were made with (default <data>/control/pepper)")
}

// config is control's configuration for the store in dataDir (the SQLite
// store and default pepper live in dataDir/control).
func (f storeFlags) config(dataDir string) control.Config {
	return control.Config{DataDir: filepath.Join(dataDir, "control"), DatabaseURL: f.DatabaseURL, PepperFile: f.PepperFile}
}
