package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/h0p/h0p/replication/cluster"
	"github.com/h0p/h0p/shared/apierror"
	"github.com/h0p/h0p/shared/clustercert"
)

// The operator commands that talk to a running cluster (status,
// remove-node, backup) call a control node's cluster endpoints over mutual
// TLS with an admin certificate of the cluster CA: `h0p admin certs
// --nodes admin:admin` mints one (beside an existing CA, it adds to it). A
// control node's certificate works too; an edge's does not.

// clusterFlags name the control node and the certificate to call it with.
type clusterFlags struct {
	control, certs, id string
	timeout            time.Duration
}

func (c *clusterFlags) register(fs *flag.FlagSet, timeout time.Duration) {
	fs.StringVar(&c.control, "control", "", "API URL of a control node, e.g. https://127.0.0.1:8443")
	fs.StringVar(&c.certs, "certs", "./certs", "directory with ca.pem and the certificate of --cert")
	fs.StringVar(&c.id, "cert", "admin", "certificate to call with: an admin certificate (h0p admin certs --nodes admin:admin) or a control node's")
	fs.DurationVar(&c.timeout, "timeout", timeout, "how long to wait for the whole answer")
}

func (c *clusterFlags) client() (*http.Client, error) {
	if c.control == "" {
		return nil, errors.New("--control is required: the API URL of a control node")
	}
	b, err := clustercert.Load(c.certs, c.id)
	if err != nil {
		return nil, err
	}
	if b.Role == clustercert.Edge {
		return nil, fmt.Errorf("--cert %s is an edge certificate: use an admin (h0p admin certs --nodes admin:admin) or control one", c.id)
	}
	return b.Client(), nil
}

// clusterCall sends one request to url and decodes a 2xx JSON answer into
// out (when not nil); any other answer is an error with the envelope's
// message.
func clusterCall(ctx context.Context, client *http.Client, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return answerError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: bad answer: %w", url, err)
	}
	return nil
}

func answerError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var env apierror.Envelope
	if json.Unmarshal(b, &env) == nil && env.Error.Code != "" {
		return fmt.Errorf("%s: %s", env.Error.Code, env.Error.Message)
	}
	return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
}

// adminStatus prints the cluster's members as the leader sees them.
func adminStatus(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cf       clusterFlags
		asJSON   bool
		noFollow bool
	)
	fs := newFlags("admin status", "Prints the cluster's members (id, raft address, voter or not, state), the leader,\n"+
		"its commit index, and each member's applied index and lag behind it. Members\n"+
		"report their applied index to the leader every "+cluster.ReportInterval.String()+"; one silent for "+cluster.StaleAfter.String()+"\n"+
		"is \"silent\" and shows its last report. Asked of a follower, it asks the leader.", stderr)
	cf.register(fs, 30*time.Second)
	fs.BoolVar(&asJSON, "json", false, "print the answer as JSON")
	fs.BoolVar(&noFollow, "no-follow", false, "print the --control node's own view, without asking the leader")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	client, err := cf.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	var st cluster.ClusterStatus
	if err := clusterCall(ctx, client, http.MethodGet, strings.TrimSuffix(cf.control, "/")+"/cluster/v1/status", nil, &st); err != nil {
		return err
	}
	if !noFollow && st.LeaderID != st.ID && st.LeaderAPI != "" {
		var lst cluster.ClusterStatus
		if err := clusterCall(ctx, client, http.MethodGet, strings.TrimSuffix(st.LeaderAPI, "/")+"/cluster/v1/status", nil, &lst); err != nil {
			fmt.Fprintf(stderr, "the leader %s (%s) did not answer (%v): this is %s's view\n", st.LeaderID, st.LeaderAPI, err, st.ID)
		} else {
			st = lst
		}
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(stdout, st, time.Now())
	return nil
}

func printStatus(w io.Writer, st cluster.ClusterStatus, now time.Time) {
	leader := st.LeaderID
	if leader == "" {
		leader = "(none known)"
	}
	fmt.Fprintf(w, "answered by: %s\nleader:      %s\ncommit index: %d\n\n", st.ID, leader, st.CommitIndex)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tVOTER\tROLE\tSTATE\tAPPLIED\tLAG\tREPORTED")
	for _, m := range st.Members {
		reported := "-"
		if m.ReportedAt != nil {
			reported = now.Sub(*m.ReportedAt).Round(100*time.Millisecond).String() + " ago"
		}
		applied := strconv.FormatUint(m.AppliedIndex, 10)
		lag := strconv.FormatUint(m.Lag, 10)
		if m.ID != st.ID && m.ReportedAt == nil {
			applied, lag = "?", "?"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Address, yes(m.Voter), m.Role, m.State, applied, lag, reported)
	}
	tw.Flush()
}

// adminRemoveNode removes a member from the raft configuration.
func adminRemoveNode(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cf clusterFlags
		id string
	)
	fs := newFlags("admin remove-node", "Removes a member (voter or not) from the raft group, through the leader (a\n"+
		"follower forwards the call). The last voter is never removed. A removed node\n"+
		"that still runs joins again at its next start: stop it first, and keep its\n"+
		"certificate from it (there is no revocation; see shared/clustercert).", stderr)
	cf.register(fs, 30*time.Second)
	fs.StringVar(&id, "id", "", "node ID to remove")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if id == "" {
		return errors.New("--id is required")
	}
	client, err := cf.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	if err := clusterCall(ctx, client, http.MethodPost, strings.TrimSuffix(cf.control, "/")+"/cluster/v1/remove", cluster.RemoveRequest{ID: id}, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed %s from the cluster\n", id)
	return nil
}

// adminBackup writes a control node's backup archive to a file: through
// its API while it runs, or from its data directory while it is stopped.
func adminBackup(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var (
		cf                              clusterFlags
		out, dataDir, dbURL, pepperFile string
	)
	fs := newFlags("admin backup", "Writes a backup of a control node on SQLite to --out (a tar.gz): its control\n"+
		"store, a checkpoint of its replicated store and raft log, of its embedded\n"+
		"click store (stats; clicks on ClickHouse are not in it: the output and the\n"+
		"manifest say so), its pepper and uploaded files, and a manifest. A running\n"+
		"node is backed up through its API (--control, --certs); a stopped one from\n"+
		"its directory (--data). With PostgreSQL (--database-url) the control store\n"+
		"is pg_dump's job: it refuses.", stderr)
	cf.register(fs, time.Hour)
	fs.StringVar(&out, "out", "", "archive to write (refuses an existing file)")
	fs.StringVar(&dataDir, "data", "", "data directory of a stopped control node (instead of --control)")
	fs.StringVar(&dbURL, "database-url", "", "a PostgreSQL control store: refused, back it up with pg_dump")
	fs.StringVar(&pepperFile, "pepper-file", "", "with --data: the node's --pepper-file, when it is not in its data directory (it goes in the archive)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if dbURL != "" {
		return errors.New("a PostgreSQL control store is backed up with pg_dump (or your provider's backups); " +
			"the replicated store lives on every node, and a node that joins gets it from raft")
	}
	switch {
	case out == "":
		return errors.New("--out is required")
	case (dataDir == "") == (cf.control == ""):
		return errors.New("give one of --control (a running node) and --data (a stopped one)")
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(out)
		}
	}()
	if dataDir != "" {
		logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if err := stoppedBackup(ctx, f, dataDir, pepperFile, logger); err != nil {
			return err
		}
	} else if err := fetchBackup(ctx, cf, f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	m, err := readManifest(out)
	if err != nil {
		return err
	}
	ok = true
	fmt.Fprintf(stdout, "wrote %s: node %s, applied index %d, %s, %s\n", out, m.NodeID, m.AppliedIndex, m.CreatedAt.Format(time.RFC3339), m.clicksNote())
	return nil
}

// fetchBackup copies a running node's archive to w.
func fetchBackup(ctx context.Context, cf clusterFlags, w io.Writer) error {
	client, err := cf.client()
	if err != nil {
		return err
	}
	// The node copies its stores before the first byte and the archive
	// takes as long as they are large: --timeout bounds it, not the
	// node client's limits on an answer.
	client.Timeout = 0
	if tr, ok := client.Transport.(*http.Transport); ok {
		tr.ResponseHeaderTimeout = 0
	}
	ctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cf.control, "/")+"/cluster/v1/backup", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("backup: %w", answerError(resp))
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("backup: the archive was cut short: %w", err)
	}
	return nil
}

// readManifest checks that the archive at p is whole (it ends with its
// manifest) and answers the manifest.
func readManifest(p string) (backupManifest, error) {
	f, err := os.Open(p)
	if err != nil {
		return backupManifest{}, err
	}
	defer f.Close()
	return restoreArchive(f, "")
}

// adminRestore extracts a backup archive into an empty data directory.
func adminRestore(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var in, dataDir string
	fs := newFlags("admin restore", "Restores a backup archive (h0p admin backup) into --data, which must be empty or\n"+
		"missing. Then start one control node on it with the archive's --node-id and\n"+
		"--bootstrap (its raft state is in the archive, so nothing is bootstrapped\n"+
		"anew), and let edges join it.", stderr)
	fs.StringVar(&in, "in", "", "archive to restore")
	fs.StringVar(&dataDir, "data", "", "data directory to restore into")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if in == "" || dataDir == "" {
		return errors.New("--in and --data are required")
	}
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	m, err := restoreArchive(f, dataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s: start it as --node-id %s; applied index %d, taken %s by h0p %s\n",
		in, dataDir, m.NodeID, m.AppliedIndex, m.CreatedAt.Format(time.RFC3339), m.Version)
	return nil
}
