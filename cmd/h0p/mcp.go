package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/url"
	"strings"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/h0p/h0p/control/apiclient"
	"github.com/h0p/h0p/control/apikey"
	"github.com/h0p/h0p/control/mcp"
)

// runMCP is `h0p mcp`: H0p's MCP server (control/mcp) over stdin and
// stdout, for an AI client that starts it as a subprocess. Its tools call
// the API at --api-url with --api-key. The protocol is the process's stdin
// and stdout (the SDK's stdio transport: run's stdout is os.Stdout); logs
// go to stderr.
func runMCP(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	var (
		apiURL, key string
		level       slog.Level
	)
	fs := newFlags("mcp", "Serves H0p's MCP tools, resources and prompts over stdio to an AI client\n"+
		"(Claude Desktop, Claude Code, Cursor, Windsurf, …). Every tool is a call of the API\n"+
		"with the key given, with that key's permissions and rate limits.", stderr)
	fs.StringVar(&apiURL, "api-url", apiclient.DefaultURL, "the API's base URL")
	fs.StringVar(&key, "api-key", "", "the API key the tools call with (prefer the environment variable, or its _FILE, to an argument)")
	fs.TextVar(&level, "log-level", slog.LevelInfo, "log level (logs go to stderr): debug, info, warn, error")
	if err := parseFlags(fs, args, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	if key == "" {
		return usagef("H0P_API_KEY is not set: h0p mcp needs an API key (h0p dev prints one as H0P_API_KEY=… on its first start)")
	}
	client, err := apiclient.New(apiURL, key)
	if err != nil {
		return usagef("%s: %v", flagSource(args, "api-url", getenv), err)
	}
	if _, err := apikey.Parse(key); err != nil {
		return usagef("H0P_API_KEY is not an H0p API key (h0p_u_… or h0p_b_…)")
	}
	client.UserAgent = "h0p-mcp/" + version
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	server := mcp.NewServer(client, mcp.Options{Version: version, Logger: logger, APIURL: apiURL})
	// The URL may hold credentials (https://user:pass@…): logs get it
	// without them.
	shown := apiURL
	if u, err := url.Parse(apiURL); err == nil {
		shown = u.Redacted()
	}
	logger.Info("h0p mcp serving over stdio", "api", shown)
	err = server.Run(ctx, &mcpsdk.StdioTransport{})
	if err != nil && ctx.Err() != nil {
		return nil
	}
	return err
}

// flagSource names where flag name's value came from, as parseFlags chose it:
// the command line, else its H0P_ variable or that variable's _FILE, else
// the flag's default.
func flagSource(args []string, name string, getenv func(string) string) string {
	for _, a := range args {
		if a == "--" {
			break
		}
		if n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && n == name {
			return "--" + name
		}
	}
	env := envName(name)
	switch {
	case getenv(env) != "":
		return env
	case getenv(env+"_FILE") != "":
		return env + "_FILE"
	}
	return "--" + name
}
