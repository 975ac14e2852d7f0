package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // VACUUM INTO from the control store

	"github.com/h0p/h0p/control/analytics/pebblestore"
	"github.com/h0p/h0p/control/outbox"
	"github.com/h0p/h0p/replication"
	"github.com/h0p/h0p/replication/cluster"
	"github.com/h0p/h0p/shared/clustercert"
)

// A backup archive (h0p admin backup) is a tar.gz laid out as a control
// node's data directory, so that restoring it is extracting it:
//
//	control/control.db       the SQLite control store (VACUUM INTO)
//	control/analytics/       Pebble checkpoint of the click store, when
//	                         it is the embedded one (not ClickHouse's)
//	control/pepper, files/…  the rest of control/; the pepper from
//	                         --pepper-file if elsewhere
//	edge/                    Pebble checkpoint of the replicated store
//	replication/raft/        Pebble checkpoint of the raft log
//	replication/snapshots/   raft's complete snapshots
//	<top-level files>        e.g. bootstrap.key
//	manifest.json            last: an archive without it was cut short
//
// The parts are taken in that order while the node serves, with its raft
// applies held (takeParts): the restored control store and raft log agree
// on every link, and the relay applies what the outbox still holds. The
// click store's checkpoint follows the control store's copy: edges do not
// ship again the batches control acknowledged, so the restored stats lack
// the clicks stored after it.

const backupFormat = 1

// backupManifest describes an archive.
type backupManifest struct {
	Format       int       `json:"format"`
	Version      string    `json:"version"`
	NodeID       string    `json:"nodeId"`
	CreatedAt    time.Time `json:"createdAt"`
	AppliedIndex uint64    `json:"appliedIndex"` // the node's applied raft index when the backup began
	CommitIndex  uint64    `json:"commitIndex"`
	ControlStore string    `json:"controlStore"` // "sqlite"
	// Clicks says where the click store is: "embedded", in
	// control/analytics; "clickhouse", not in the archive; "" none.
	Clicks string `json:"clicks,omitempty"`
}

const manifestName = "manifest.json"

// clicksNote says where the archive's clicks are, for the operator.
func (m backupManifest) clicksNote() string {
	switch m.Clicks {
	case "embedded":
		return "clicks in the archive"
	case "clickhouse":
		return "clicks in ClickHouse, not in the archive"
	}
	return "no click store in the archive"
}

// applyGate is the applier control publishes its commands through. A
// backup holds it while it takes its parts, so that no command reaches
// raft between the control store's copy and the raft log's.
type applyGate struct {
	outbox.Applier
	mu sync.RWMutex
}

func (g *applyGate) Apply(ctx context.Context, cmd []byte) (uint64, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.Applier.Apply(ctx, cmd)
}

// backupBetweenParts runs between the control store's copy and the raft
// log's (tests make writes there).
var backupBetweenParts = func() {}

// clickCheckpointer is the click store of a running control node as a
// backup takes it (control.Server): a checkpoint in dir when the store is
// the embedded one, and whether it was.
type clickCheckpointer interface {
	CheckpointClicks(dir string) (bool, error)
}

// nodeBackup backs up a control node whose data directory is dataDir,
// whose pepper is pepperFile ("": in dataDir), which publishes through
// gate and whose click store is clicks (set once control is open, before
// it serves).
type nodeBackup struct {
	node                             *replication.Node
	gate                             *applyGate
	dataDir, databaseURL, pepperFile string
	clicks                           clickCheckpointer
}

// Backup is the cluster handler's Backup: it writes the archive to w;
// with a PostgreSQL store it refuses.
func (b *nodeBackup) Backup(ctx context.Context, w io.Writer) error {
	if b.databaseURL != "" {
		return fmt.Errorf("%w: the control store is PostgreSQL, whose backups are pg_dump's (or your provider's) job; "+
			"the replicated store is rebuilt from raft by any node that joins", cluster.ErrNoBackup)
	}
	m := backupManifest{Format: backupFormat, Version: version, NodeID: b.node.ID(), CreatedAt: time.Now().UTC(),
		AppliedIndex: b.node.AppliedIndex(), CommitIndex: b.node.CommitIndex(), ControlStore: "sqlite"}
	tmp, err := os.MkdirTemp(b.dataDir, ".backup-")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	if m.Clicks, err = b.takeParts(ctx, tmp); err != nil {
		return err
	}
	return writeArchive(w, tmp, b.dataDir, b.pepperFile, m)
}

// takeParts copies the edge store, the control store and the raft state
// of a running node into tmp. Control commits a write to its store, then
// applies its command through raft, then deletes its outbox entry. With
// the applies held, the three parts see the same commands: whatever the
// raft log has, the control store has; whatever the control store has,
// the raft log has or its outbox still holds (the relay applies it on
// the restored node). Writes wait for the copies, not for the archive.
// The click store's checkpoint comes right after the control store's copy
// (its own per-edge sequences keep it whole); takeParts returns the
// manifest's Clicks.
func (b *nodeBackup) takeParts(ctx context.Context, tmp string) (string, error) {
	b.gate.mu.Lock()
	defer b.gate.mu.Unlock()
	if err := b.node.CheckpointStore(filepath.Join(tmp, "edge")); err != nil {
		return "", err
	}
	if err := os.Mkdir(filepath.Join(tmp, "control"), 0o700); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	if err := vacuumInto(ctx, filepath.Join(b.dataDir, "control", "control.db"), filepath.Join(tmp, "control", "control.db")); err != nil {
		return "", err
	}
	clicks := ""
	if b.clicks != nil {
		embedded, err := b.clicks.CheckpointClicks(filepath.Join(tmp, "control", "analytics"))
		if err != nil {
			return "", fmt.Errorf("backup: %w", err)
		}
		// On SQLite, the click store is embedded unless on ClickHouse.
		clicks = map[bool]string{true: "embedded", false: "clickhouse"}[embedded]
	}
	backupBetweenParts()
	return clicks, b.node.CheckpointRaft(filepath.Join(tmp, "replication"))
}

// stoppedBackup writes the backup archive of the control node whose data
// directory is dataDir and which is not running (its Pebble stores are
// locked while it runs), whose pepper is pepperFile ("": in dataDir), to w.
func stoppedBackup(ctx context.Context, w io.Writer, dataDir, pepperFile string, logger *slog.Logger) error {
	tmp, err := os.MkdirTemp(dataDir, ".backup-")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	err = replication.CheckpointClosed(filepath.Join(dataDir, "edge"), filepath.Join(dataDir, "replication"),
		filepath.Join(tmp, "edge"), filepath.Join(tmp, "replication"), logger)
	if err != nil {
		return fmt.Errorf("backup (a running node is backed up through its API: --control): %w", err)
	}
	// The stores are closed again: read the manifest's indexes from the copy.
	store, err := replication.OpenStore(filepath.Join(tmp, "edge"), logger)
	if err != nil {
		return err
	}
	applied := store.AppliedIndex()
	// A node on SQLite is the only control node of its cluster.
	nodeID := ""
	nodes, _ := store.Nodes()
	for _, n := range nodes {
		if n.Role == string(clustercert.Control) {
			nodeID = n.ID
		}
	}
	store.Close()
	if err := os.Mkdir(filepath.Join(tmp, "control"), 0o700); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := vacuumInto(ctx, filepath.Join(dataDir, "control", "control.db"), filepath.Join(tmp, "control", "control.db")); err != nil {
		return err
	}
	m := backupManifest{Format: backupFormat, Version: version, NodeID: nodeID, CreatedAt: time.Now().UTC(),
		AppliedIndex: applied, CommitIndex: applied, ControlStore: "sqlite"}
	if m.Clicks, err = checkpointClosedClicks(filepath.Join(dataDir, "control", "analytics"), filepath.Join(tmp, "control", "analytics"), logger); err != nil {
		return err
	}
	return writeArchive(w, tmp, dataDir, pepperFile, m)
}

// checkpointClosedClicks copies the embedded click store in dir, of a node
// that is not running, to dst, and returns the manifest's Clicks: "" when
// dir does not exist (the node keeps its clicks in ClickHouse, or has none
// yet).
func checkpointClosedClicks(dir, dst string, logger *slog.Logger) (string, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("backup click store: %w", err)
	}
	s, err := pebblestore.Open(dir, pebblestore.Options{Logger: logger, CacheBytes: 1 << 20})
	if err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	defer s.Close()
	if err := s.Checkpoint(dst); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	return "embedded", nil
}

// vacuumInto writes a consistent copy of the SQLite database src to dst
// (SQLite reads it in one transaction; the writer goes on meanwhile).
func vacuumInto(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil { // sql.Open would create it
		return fmt.Errorf("backup control store: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("backup control store: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("backup control store: %w", err)
	}
	return nil
}

// writeArchive writes tmp's checkpoints, the rest of dataDir's control
// files and top-level files, and the manifest, as a tar.gz to w. A
// pepperFile outside dataDir is written as control/pepper, in place of
// any there: a restored node needs the pepper its keys were made with.
func writeArchive(w io.Writer, tmp, dataDir, pepperFile string, m backupManifest) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	if err := tw.AddFS(os.DirFS(tmp)); err != nil {
		return fmt.Errorf("backup archive: %w", err)
	}
	control := filepath.Join(dataDir, "control")
	externalPepper := pepperFile != "" && filepath.Clean(pepperFile) != filepath.Join(control, "pepper")
	if externalPepper {
		if err := addFile(tw, pepperFile, "control/pepper"); err != nil {
			return fmt.Errorf("backup archive: pepper: %w", err)
		}
	}
	err := filepath.WalkDir(control, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(control, p)
		switch {
		case rel == "analytics" && d.IsDir(): // the click store: its checkpoint is in tmp
			return fs.SkipDir
		case strings.HasPrefix(rel, "control.db"), !d.Type().IsRegular(), externalPepper && rel == "pepper":
			return nil
		}
		return addFile(tw, p, path.Join("control", filepath.ToSlash(rel)))
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup archive: %w", err)
	}
	top, err := os.ReadDir(dataDir)
	if err != nil {
		return fmt.Errorf("backup archive: %w", err)
	}
	for _, e := range top {
		if e.Type().IsRegular() {
			if err := addFile(tw, filepath.Join(dataDir, e.Name()), e.Name()); err != nil {
				return fmt.Errorf("backup archive: %w", err)
			}
		}
	}
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := tw.WriteHeader(&tar.Header{Name: manifestName, Mode: 0o600, Size: int64(len(mb)), ModTime: m.CreatedAt, Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("backup archive: %w", err)
	}
	if _, err := tw.Write(mb); err != nil {
		return fmt.Errorf("backup archive: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("backup archive: %w", err)
	}
	return gz.Close()
}

func addFile(tw *tar.Writer, src, name string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	hdr, err := tar.FileInfoHeader(info, "")
	if err != nil {
		return err
	}
	hdr.Name = name
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// A file growing meanwhile is cut at the size the header promised.
	_, err = io.CopyN(tw, f, hdr.Size)
	return err
}

// restoreArchive extracts the archive r into dir, which must be empty or
// missing, and returns its manifest. An archive without a manifest (cut
// short) or with an entry outside dir restores nothing: what was
// extracted is removed. With dir "", it only reads the archive through.
func restoreArchive(r io.Reader, dir string) (m backupManifest, err error) {
	if dir == "" {
		return readArchive(r, "")
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return m, fmt.Errorf("restore: %s is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return m, fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	defer func() {
		if err != nil {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}()
	return readArchive(r, dir)
}

// readArchive reads the archive r through, extracting it into dir unless
// dir is "", and returns its manifest.
func readArchive(r io.Reader, dir string) (m backupManifest, err error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	tr := tar.NewReader(gz)
	haveManifest := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return m, fmt.Errorf("restore: %w", err)
		}
		if haveManifest {
			return m, errors.New("restore: entries after the manifest")
		}
		name := strings.TrimSuffix(hdr.Name, "/") // tar names directories with a slash
		if !fs.ValidPath(name) || name == "." {
			return m, fmt.Errorf("restore: bad entry name %q", hdr.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch {
		case name == manifestName:
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil {
				return m, fmt.Errorf("restore: manifest: %w", err)
			}
			if m.Format != backupFormat {
				return m, fmt.Errorf("restore: archive format %d, this h0p reads %d", m.Format, backupFormat)
			}
			haveManifest = true
		case dir == "" && (hdr.Typeflag == tar.TypeDir || hdr.Typeflag == tar.TypeReg):
			if _, err := io.Copy(io.Discard, tr); err != nil {
				return m, fmt.Errorf("restore: %w", err)
			}
		case hdr.Typeflag == tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return m, fmt.Errorf("restore: %w", err)
			}
		case hdr.Typeflag == tar.TypeReg:
			if err := extractFile(tr, target, fs.FileMode(hdr.Mode).Perm()); err != nil {
				return m, fmt.Errorf("restore: %w", err)
			}
		default:
			return m, fmt.Errorf("restore: unexpected entry %q", hdr.Name)
		}
	}
	if !haveManifest {
		return m, errors.New("restore: the archive has no manifest: it was cut short")
	}
	return m, nil
}

func extractFile(r io.Reader, target string, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
