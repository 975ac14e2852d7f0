package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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
