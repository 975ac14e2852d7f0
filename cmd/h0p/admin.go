package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/shared/clustercert"
)

// runAdmin is `h0p admin …`.
func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	usage := "Usage:\n  h0p admin certs --out DIR --nodes c1,c2,c3,e1,e2\n" +
		"  h0p admin create-org --name NAME --owner-email EMAIL [--data DIR | --database-url URL --pepper-file FILE]\n" +
		"  h0p admin set-password --email EMAIL [--data DIR | --database-url URL --pepper-file FILE]  (password from H0P_PASSWORD)\n" +
		"  h0p admin set-plan --org ORG_ID --plan free|pro|business|enterprise [--data DIR | --database-url URL --pepper-file FILE]\n" +
		"  h0p admin status --control URL --certs DIR [--cert admin] [--json]\n" +
		"  h0p admin remove-node --id ID --control URL --certs DIR [--cert admin]\n" +
		"  h0p admin backup (--control URL --certs DIR [--cert admin] | --data DIR [--pepper-file FILE]) --out FILE\n" +
		"  h0p admin restore --in FILE --data DIR\n"
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage+"\nRun \"h0p admin <command> --help\" for a command's flags.\n")
		return flag.ErrHelp
	case "certs":
		return adminCerts(args[1:], stdout, stderr, getenv)
	case "create-org":
		return adminCreateOrg(ctx, args[1:], stdout, stderr, getenv)
	case "set-password":
		return adminSetPassword(ctx, args[1:], stderr, getenv)
	case "set-plan":
		return adminSetPlan(ctx, args[1:], stderr, getenv)
	case "status":
		return adminStatus(ctx, args[1:], stdout, stderr, getenv)
	case "remove-node":
		return adminRemoveNode(ctx, args[1:], stdout, stderr, getenv)
	case "backup":
		return adminBackup(ctx, args[1:], stdout, stderr, getenv)
	case "restore":
		return adminRestore(args[1:], stdout, stderr, getenv)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown admin command %q", args[0])
}

func adminCerts(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var out, nodes, hosts string
	var overwrite bool
	fs := newFlags("admin certs", "Mints a development cluster CA and a certificate per node into --out; when\n"+
		"--out already holds a CA (ca.pem, ca-key.pem), mints the nodes with it instead.\n"+
		"Node entries are id or id:role (control, edge, or admin: an operator's\n"+
		"certificate for h0p admin status, remove-node and backup); without a role,\n"+
		"ids starting with \"e\" are edges and all others control nodes.", stderr)
	fs.StringVar(&out, "out", "./certs", "output directory")
	fs.StringVar(&nodes, "nodes", "c1,c2,c3,e1,e2", "comma-separated node ids")
	fs.StringVar(&hosts, "hosts", "", "extra host names or IPs for every node certificate (loopback is always included)")
	fs.BoolVar(&overwrite, "overwrite", false, "replace an existing CA")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	specs, err := clustercert.ParseNodeList(nodes)
	if err != nil {
		return err
	}
	if hosts != "" {
		for i := range specs {
			specs[i].Hosts = append(specs[i].Hosts, strings.Split(hosts, ",")...)
		}
	}
	if _, err := os.Stat(filepath.Join(out, clustercert.CAKeyFile)); err == nil && !overwrite {
		if err := clustercert.AddNodes(out, specs); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote certificates for %s into %s, signed by its CA\n", nodes, out)
		return nil
	}
	ca, err := clustercert.MintCA("h0p dev cluster CA", time.Now())
	if err != nil {
		return err
	}
	if err := clustercert.WriteDir(out, ca, specs, overwrite); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: ca.pem and certificates for %s\n", out, nodes)
	return nil
}

// adminCreateOrg creates an organization with an Owner and prints the
// Owner's key, for installs that start from nothing.
func adminCreateOrg(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		dataDir, name, email, pw, plan string
		sf                             storeFlags
	)
	fs := newFlags("admin create-org", "Creates an organization whose Owner is --owner-email (a new user unless the\n"+
		"email exists) and prints the Owner's API key as H0P_API_KEY=…. Point it at the\n"+
		"same store and pepper as the control nodes.", stderr)
	fs.StringVar(&dataDir, "data", "./data", "data directory of the control node (its SQLite store and pepper)")
	sf.register(fs)
	fs.StringVar(&name, "name", "", "organization name")
	fs.StringVar(&email, "owner-email", "", "email of the Owner")
	fs.StringVar(&pw, "owner-password", "", "password for a new Owner user (better through H0P_OWNER_PASSWORD)")
	fs.StringVar(&plan, "plan", "free", "plan: free, pro, business or enterprise")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if name == "" || email == "" {
		return errors.New("--name and --owner-email are required")
	}
	svc, st, err := control.OpenAccounts(ctx, sf.config(dataDir))
	if err != nil {
		return err
	}
	defer st.Close()
	var key string
	o, err := svc.CreateOrgWithOwner(ctx, name, email, pw, plan, func(k string) error { key = k; return nil })
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "created organization %s (%s) with Owner %s\n", o.Name, o.ID, email)
	fmt.Fprintf(stdout, "H0P_API_KEY=%s\n", key)
	return nil
}

// adminSetPassword sets a user's password, e.g. for the bootstrap Owner
// (owner@localhost), who starts with a key but no password.
func adminSetPassword(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	var (
		dataDir, email, pw string
		sf                 storeFlags
	)
	fs := newFlags("admin set-password", "Sets the password of the user with --email, so they can log in.", stderr)
	fs.StringVar(&dataDir, "data", "./data", "data directory of the control node (its SQLite store and pepper)")
	sf.register(fs)
	fs.StringVar(&email, "email", "", "the user's email")
	fs.StringVar(&pw, "password", "", "the new password (better through H0P_PASSWORD)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if email == "" || pw == "" {
		return errors.New("--email and --password (or H0P_PASSWORD) are required")
	}
	svc, st, err := control.OpenAccounts(ctx, sf.config(dataDir))
	if err != nil {
		return err
	}
	defer st.Close()
	if err := svc.SetPassword(ctx, email, pw); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "password set for %s\n", email)
	return nil
}

// adminSetPlan moves an organization to another plan.
func adminSetPlan(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	var (
		dataDir, org, plan string
		sf                 storeFlags
	)
	fs := newFlags("admin set-plan", "Moves an organization to another plan (limits and features: control/plans).", stderr)
	fs.StringVar(&dataDir, "data", "./data", "data directory of the control node (its SQLite store and pepper)")
	sf.register(fs)
	fs.StringVar(&org, "org", "", "organization ID (org_…)")
	fs.StringVar(&plan, "plan", "", "free, pro, business or enterprise")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if org == "" || plan == "" {
		return errors.New("--org and --plan are required")
	}
	svc, st, err := control.OpenAccounts(ctx, sf.config(dataDir))
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := svc.SetPlan(ctx, org, plan); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s is on the %s plan\n", org, plan)
	return nil
}
