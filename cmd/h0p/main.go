// Command h0p is the one H0p binary.
//
//	h0p dev       control + edge in one process, embedded defaults
//	h0p control   a control node of a cluster
//	h0p edge      an edge node of a cluster
//	h0p admin     operator tools: certs, create-org, set-password, set-plan
//	h0p links     short links through the API: create, get, list, update, delete
//	h0p stats     click counts through the API
//	h0p domains   custom domains through the API: list, get, add, verify, delete
//	h0p mcp       an MCP server over stdio for AI tools, calling the API
//	h0p version   print the version
//
// Logs go to stderr; stdout carries only what a script may want to read
// (the bootstrap key line of h0p dev, the API commands' output), or h0p
// mcp's protocol. Exit status: 0, 1 when something failed, 2 for a command
// line h0p cannot read.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "devel"

// shutdownDeadline bounds a graceful shutdown: draining waits for in-flight
// requests and raft for its peers, and a peer that hangs (a frozen process,
// a black-holed network) must not keep the process alive forever.
const shutdownDeadline = 45 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		time.Sleep(shutdownDeadline)
		fmt.Fprintf(os.Stderr, "h0p: still shutting down after %v; exiting\n", shutdownDeadline)
		os.Exit(1)
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `h0p — short links on your domains, served by fast edges.

Usage: h0p <command> [flags]

Commands:
  dev       run control and edge in one process on embedded defaults
  control   run a control node (API + raft voter) of a cluster
  edge      run an edge node (redirects + raft non-voter) of a cluster
  admin     operator tools: certs (a dev cluster CA), create-org, set-password, set-plan,
            status, remove-node, backup, restore
  links     create, get, list, update and delete short links
  stats     click counts: total, timeseries, top countries, links, referrers, …
  domains   list, get, add, verify and delete custom domains
  mcp       serve H0p's tools to an AI client (Claude, Cursor, …) over stdio
  version   print the version

links, stats, domains and mcp call the API at H0P_API_URL (default http://127.0.0.1:8080)
with the key H0P_API_KEY; --json prints the API's answer as it came.

Run "h0p <command> --help" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "dev":
		err = runDev(ctx, args[1:], stdout, stderr, getenv)
	case "control":
		err = runControl(ctx, args[1:], stdout, stderr, getenv)
	case "edge":
		err = runEdge(ctx, args[1:], stdout, stderr, getenv)
	case "admin":
		err = runAdmin(ctx, args[1:], stdout, stderr, getenv)
	case "links":
		err = runLinks(ctx, args[1:], stdout, stderr, getenv)
	case "stats":
		err = runStats(ctx, args[1:], stdout, stderr, getenv)
	case "domains":
		err = runDomains(ctx, args[1:], stdout, stderr, getenv)
	case "mcp":
		err = runMCP(ctx, args[1:], stderr, getenv)
	case "version", "--version":
		fmt.Fprintln(stdout, "h0p", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "h0p: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if _, ok := errors.AsType[*usageError](err); ok {
		fmt.Fprintln(stderr, "h0p:", err)
		return 2
	}
	fmt.Fprintln(stderr, "h0p:", errorLine(err))
	return 1
}
