package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/h0p/h0p/control"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/control/visitorsalt"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/shared/clustercert"
	"github.com/h0p/h0p/shared/kv"
)

// data is one size's links, written once for every layout. The control
// node's data directory is dir/control, as h0p control keeps it: edge/ (its
// replicated store), replication/ (raft) and control/ (control store, click
// store). Each edge reads a copy of that replicated store made before
// control first ran: the shipping edge dir/edge (its spool in dir/clicks),
// the edge without shipping dir/edge-drain. dir/certs holds the cluster CA
// and both nodes' certificates.
type data struct {
	dir      string
	raftAddr string // the control node's, kept in its raft configuration
	key      string // the bench org's Owner key, for the stats API
	// Seconds to write the edge store (through raft) and the control store.
	edgeSeconds, controlSeconds float64
}

const (
	controlNodeDir = "control"
	edgeStoreDir   = "edge"
	drainStoreDir  = "edge-drain"
	spoolDir       = "clicks"
	certsDir       = "certs"
	// The nodes' ids, in their certificates: the edge's is also its
	// spool's, which names its click batches.
	controlNodeID = "c1"
	edgeNodeID    = "e1"
)

// quietLogger drops everything.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// writeData writes n random links into the control store (an org on the
// enterprise plan, its Owner key) and, through the control node's raft
// group (a single voter) as control publishes them, into its replicated
// store, in commands of 1000, with today's and tomorrow's visitor salts as
// control publishes them; the same slug → URL pairs into dir/links.map for
// nginx, and dir/keys (one path per line) for wrk. It copies the
// replicated store for each edge of modes, and mints the cluster's CA and
// the nodes' certificates. The store also holds the certificate of the
// HTTPS runs (writeTLS), whose chain and key nginx reads from dir/tls.
func writeData(dir string, n int, modes []string) (data, error) {
	d := data{dir: dir, raftAddr: freeAddr()}
	if err := d.write(context.Background(), n); err != nil {
		return d, err
	}
	for _, mode := range modes {
		to := edgeStoreDir
		if mode == drain {
			to = drainStoreDir
		}
		if err := copyDir(filepath.Join(dir, controlNodeDir, edgeStoreDir), filepath.Join(dir, to)); err != nil {
			return d, err
		}
	}
	return d, writeCerts(filepath.Join(dir, certsDir))
}

// writeCerts mints a cluster CA and the certificates of the control node
// and the edge into dir, as h0p admin certs does.
func writeCerts(dir string) error {
	ca, err := clustercert.MintCA("h0p bench CA", time.Now())
	if err != nil {
		return err
	}
	return clustercert.WriteDir(dir, ca, []clustercert.NodeSpec{
		{ID: controlNodeID, Role: clustercert.Control}, {ID: edgeNodeID, Role: clustercert.Edge},
	}, false)
}

// write writes the links of writeData and closes what it opened.
func (d *data) write(ctx context.Context, n int) (err error) {
	closing := func(c interface{ Close() error }) {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	nodeDir := filepath.Join(d.dir, controlNodeDir)
	orgID, key, st, err := createOrg(ctx, filepath.Join(nodeDir, "control"))
	if err != nil {
		return err
	}
	defer closing(st)
	d.key = key
	es, err := replication.OpenStore(filepath.Join(nodeDir, edgeStoreDir), quietLogger)
	if err != nil {
		return err
	}
	defer closing(es)
	node, err := replication.Open(replication.Config{
		NodeID: controlNodeID, RaftAddr: d.raftAddr, Dir: filepath.Join(nodeDir, "replication"), Voter: true, Bootstrap: true,
		Logger: quietLogger, HeartbeatTimeout: 500 * time.Millisecond,
	}, es)
	if err != nil {
		return err
	}
	defer closing(node) // before the edge store
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := node.WaitLeader(waitCtx); err != nil {
		return err
	}
	salts := &visitorsalt.Publisher{Applier: node, Salts: es, Logger: quietLogger, Now: time.Now}
	if err := salts.Ensure(ctx); err != nil {
		return err
	}
	mapFile, err := os.Create(filepath.Join(d.dir, "links.map"))
	if err != nil {
		return err
	}
	defer closing(mapFile)
	keyFile, err := os.Create(filepath.Join(d.dir, "keys"))
	if err != nil {
		return err
	}
	defer closing(keyFile)

	mw, kw := bufio.NewWriter(mapFile), bufio.NewWriter(keyFile)
	rng := rand.New(rand.NewPCG(1, 2))
	const batch = 1000
	now := time.Now()
	var edgeTime, controlTime time.Duration
	for i := 0; i < n; i += batch {
		var cmd kv.Command
		var ls []store.Link
		for j := i; j < min(i+batch, n); j++ {
			slug := randomSlug(rng, j)
			url := fmt.Sprintf("https://example.com/landing/%s?utm_source=bench&item=%d", slug, j)
			id := fmt.Sprintf("link_%026d", j)
			cmd.Ops = append(cmd.Ops, kv.Op{Type: kv.OpPutLink, Link: &kv.Link{
				ID: id, OrgID: orgID, Domain: domain, Slug: slug, URL: url, Version: 1,
			}})
			ls = append(ls, store.Link{ID: id, OrgID: orgID, Domain: domain, Key: slug, URL: url, Version: 1,
				CreatedBy: "key_bench", CreatedAt: now, UpdatedAt: now})
			fmt.Fprintf(mw, "/%s %s;\n", slug, url)
			fmt.Fprintf(kw, "/%s\n", slug)
		}
		t := time.Now()
		if err := st.Write(ctx, func(q store.Queries) error {
			for _, l := range ls {
				if err := q.InsertLink(ctx, l); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("control store: %w", err)
		}
		controlTime += time.Since(t)
		t = time.Now()
		if _, err := node.Apply(ctx, cmd.Encode()); err != nil {
			return err
		}
		edgeTime += time.Since(t)
	}
	// The certificate of the HTTPS runs, through raft as control
	// publishes a custom domain's.
	cert, err := writeTLS(d.dir)
	if err != nil {
		return err
	}
	if _, err := node.Apply(ctx, kv.PutCertificate(cert).Encode()); err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	t := time.Now()
	if err := es.Compact(ctx); err != nil {
		return err
	}
	d.edgeSeconds, d.controlSeconds = (edgeTime + time.Since(t)).Seconds(), controlTime.Seconds()
	if err := mw.Flush(); err != nil {
		return err
	}
	return kw.Flush()
}

// createOrg makes the control store in dir with one org on the enterprise
// plan (no click limit) and returns its id, its Owner's key and the store.
func createOrg(ctx context.Context, dir string) (orgID, key string, _ store.Store, _ error) {
	acc, st, err := control.OpenAccounts(ctx, control.Config{DataDir: dir})
	if err != nil {
		return "", "", nil, err
	}
	o, err := acc.CreateOrgWithOwner(ctx, "Bench", "owner@example.com", "", "enterprise", func(k string) error {
		key = k
		return nil
	})
	if err != nil {
		st.Close()
		return "", "", nil, err
	}
	return o.ID, key, st, nil
}

// randomSlug is 7 random alphanumerics, made unique by the index.
func randomSlug(rng *rand.Rand, i int) string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 7, 14)
	for k := range b {
		b[k] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b) + strconv.FormatInt(int64(i), 36)
}

// copyDir copies the regular files of the tree from to the tree to.
func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if e.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, src); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
