// Command files measures the byte storage under the files resource
// (control/files/blobs): Put throughput, in MiB/s and objects/s, of 10 MiB
// and 100 KiB objects into Local (a directory under /tmp) and into S3
// (gofakes3's in-memory server over HTTP on loopback), each beside its
// floor in the same run. Local's floor writes the same bytes with a write,
// an fsync and a rename (no hashing, no directory fsync); S3's is a plain
// HTTP PUT of the same bytes, with its Content-Length, to a net/http server
// on loopback that discards them: the wire with no S3 server behind it.
//
// Each object holds other bytes (its key is precomputed); Puts run one at
// a time for -time or -max objects, whichever ends first, in -rounds
// rounds that take a section's cases in turn, and only the Puts are timed: each object is deleted after its Put, untimed, so the
// store stays small. The program is a list of sections, each adding rows
// to one table; a new section (the files API's uploads) is one more entry
// in sections. It writes bench/results/files.json and .md.
//
//	go run ./bench/files
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/h0p/h0p/bench/internal/results"
	"github.com/h0p/h0p/control/files/blobs"
)

// row is one measured case.
type row struct {
	Section       string  `json:"section"`
	Target        string  `json:"target"`
	Kind          string  `json:"kind"` // "floor", "store", or "reference" (a part of the store's work alone)
	ObjectBytes   int     `json:"objectBytes"`
	Objects       int     `json:"objects"`
	Seconds       float64 `json:"seconds"`
	MiBPerSecond  float64 `json:"mibPerSecond"`
	ObjectsPerSec float64 `json:"objectsPerSecond"`
}

type config struct {
	sizes  []int
	time   time.Duration // a case's total
	rounds int
	max    int
	tmp    string // a directory for the section's files
}

// section measures one way of storing bytes and returns its rows.
type section struct {
	name string
	desc string
	note string // what bounds the figures, after the table
	run  func(ctx context.Context, cfg config) ([]row, error)
}

var sections = []section{
	{"local", "blobs.Local in a directory under /tmp: SHA-256 while writing, fsync, rename, fsync of the fan-out directory. Floor: write + fsync + close + rename of the same bytes. Reference: SHA-256 of the same bytes, no I/O.",
		"blobs.Local pays the floor, the SHA-256 of every byte (one core; Go's crypto/sha256, the reference row) and an fsync of the fan-out directory after the rename (what makes the rename durable), and copies the bytes through a 256 KiB buffer rather than writing them at once.", benchLocal},
	{"s3", "blobs.S3 (minio-go) into gofakes3's in-memory server on loopback, one PUT an object (under minio-go's 16 MiB part size), SHA-256 checked while streaming; signed: minio-go's default over plain HTTP, the body as a signed aws-chunked stream; unsigned: UnsignedPayload, as over HTTPS. Floor: a plain HTTP PUT with Content-Length to a net/http server that discards the body.",
		"The client's own work is the SHA-256 of the bytes (the local section's reference row), and when signed a second SHA-256 for the chunk signatures; the rest of the gap to the floor is minio-go's request and gofakes3's work, in the same process on the same 2 CPUs: a test server, it reads each body into memory and computes its MD5 twice (the ETag). A real S3 server's figures will be its network's and its disks'.", benchS3},
}

func main() {
	out := flag.String("out", "bench/results", "directory for files.json and .md")
	perCase := flag.Duration("time", 4*time.Second, "time a case puts for, at most, over all rounds")
	rounds := flag.Int("rounds", 4, "rounds, each running every case of a section in turn")
	maxObjects := flag.Int("max", 20000, "objects a case puts, at most")
	flag.Parse()
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "h0p-files-bench")
	must(err)
	defer os.RemoveAll(tmp)

	var rows []row
	var md strings.Builder
	fmt.Fprintf(&md, "# File storage: Put throughput\n\n")
	for _, s := range sections {
		dir := filepath.Join(tmp, s.name)
		must(os.MkdirAll(dir, 0o700))
		r, err := s.run(ctx, config{sizes: []int{10 << 20, 100 << 10}, time: *perCase, rounds: *rounds, max: *maxObjects, tmp: dir})
		if err != nil {
			log.Fatalf("%s: %v", s.name, err)
		}
		for i := range r {
			r[i].Section = s.name
		}
		rows = append(rows, r...)
		writeTable(&md, s, r)
	}
	measured := time.Now().UTC().Format(time.RFC3339)
	fmt.Fprintf(&md, "One Put at a time, each object's bytes different, only the Puts timed, "+
		"up to %s or %d objects a case, in %d rounds taking the cases of a section in turn; "+
		"%d CPUs, measured %s. The machine (its CPUs and its disk) is shared by the store, "+
		"its server, the bench and other work: compare the ratios to the floor within a run.\n",
		*perCase, *maxObjects, *rounds, runtime.NumCPU(), measured)
	must(results.Write(*out, "files", map[string]any{
		"rows": rows, "cpus": runtime.NumCPU(), "measuredAt": measured,
		"secondsPerCase": perCase.Seconds(), "rounds": *rounds, "maxObjects": *maxObjects,
	}, md.String()))
	fmt.Print(md.String())
}

func writeTable(md *strings.Builder, s section, rows []row) {
	fmt.Fprintf(md, "## %s\n\n%s\n\n", s.name, s.desc)
	fmt.Fprintf(md, "| target | object | objects | MiB/s | objects/s | of the floor |\n|---|---|---|---|---|---|\n")
	floors := map[int]float64{}
	for _, r := range rows {
		if r.Kind == "floor" {
			floors[r.ObjectBytes] = r.MiBPerSecond
		}
	}
	for _, r := range rows {
		ratio := r.Kind
		if r.Kind == "store" && floors[r.ObjectBytes] > 0 {
			ratio = fmt.Sprintf("%.2f×", r.MiBPerSecond/floors[r.ObjectBytes])
		}
		fmt.Fprintf(md, "| %s | %s | %d | %.1f | %.1f | %s |\n",
			r.Target, sizeName(r.ObjectBytes), r.Objects, r.MiBPerSecond, r.ObjectsPerSec, ratio)
	}
	fmt.Fprintf(md, "\n%s\n\n", s.note)
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// objects gives the i-th object of a size: random bytes whose first eight
// are i, so each has a key of its own, computed before timing.
type objects struct {
	data []byte
}

func newObjects(size int) *objects {
	r := rand.New(rand.NewPCG(uint64(size), 1))
	data := make([]byte, size)
	for i := 0; i+8 <= size; i += 8 {
		binary.LittleEndian.PutUint64(data[i:], r.Uint64())
	}
	return &objects{data: data}
}

func (o *objects) next(i int) (key string, data []byte) {
	binary.LittleEndian.PutUint64(o.data, uint64(i))
	return blobs.Key(o.data), o.data
}

// runner puts fresh objects of one size into one target, one at a time,
// timing the puts only, and calls clean (untimed) after each.
type runner struct {
	target, kind string
	size         int
	put          func(key string, data []byte) error
	clean        func(key string) error
	objs         *objects
	n            int
	spent        time.Duration
}

func (r *runner) run(d time.Duration, max int) error {
	end := r.spent + d
	for ; r.n < max && r.spent < end; r.n++ {
		key, data := r.objs.next(r.n)
		start := time.Now()
		if err := r.put(key, data); err != nil {
			return fmt.Errorf("%s, %s: %w", r.target, sizeName(r.size), err)
		}
		r.spent += time.Since(start)
		if err := r.clean(key); err != nil {
			return fmt.Errorf("%s, %s: %w", r.target, sizeName(r.size), err)
		}
	}
	return nil
}

// interleave runs the runners in turn, -rounds times, each for its share of
// -time a round, so that a disk or CPU busy for a while (the machine is
// shared) weighs on every target alike.
func interleave(cfg config, runners ...*runner) ([]row, error) {
	for range cfg.rounds {
		for _, r := range runners {
			if err := r.run(cfg.time/time.Duration(cfg.rounds), cfg.max); err != nil {
				return nil, err
			}
		}
	}
	var rows []row
	for _, r := range runners {
		s := r.spent.Seconds()
		rows = append(rows, row{
			Target: r.target, Kind: r.kind, ObjectBytes: r.size, Objects: r.n, Seconds: s,
			MiBPerSecond: float64(r.n) * float64(r.size) / (1 << 20) / s, ObjectsPerSec: float64(r.n) / s,
		})
	}
	return rows, nil
}

func newRunner(target, kind string, size int, put func(key string, data []byte) error, clean func(key string) error) *runner {
	if clean == nil {
		clean = func(string) error { return nil }
	}
	return &runner{target: target, kind: kind, size: size, put: put, clean: clean, objs: newObjects(size)}
}

func benchLocal(ctx context.Context, cfg config) ([]row, error) {
	store, err := blobs.OpenLocal(filepath.Join(cfg.tmp, "blobs"))
	if err != nil {
		return nil, err
	}
	floorDir := filepath.Join(cfg.tmp, "floor")
	if err := os.MkdirAll(floorDir, 0o700); err != nil {
		return nil, err
	}
	var rows []row
	for _, size := range cfg.sizes {
		r, err := interleave(cfg,
			newRunner("os.WriteFile + fsync + rename", "floor", size, func(key string, data []byte) error {
				return writeFile(filepath.Join(floorDir, "tmp-"+key), filepath.Join(floorDir, key), data)
			}, func(key string) error { return os.Remove(filepath.Join(floorDir, key)) }),
			newRunner("SHA-256 of the bytes alone", "reference", size, func(key string, data []byte) error {
				if blobs.Key(data) != key {
					return fmt.Errorf("key of %s changed", key)
				}
				return nil
			}, nil),
			newRunner("blobs.Local", "store", size, func(key string, data []byte) error {
				return store.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
			}, func(key string) error { return store.Delete(ctx, key) }),
		)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// writeFile is the floor: the least a durable write of new bytes does.
func writeFile(tmp, path string, data []byte) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func benchS3(ctx context.Context, cfg config) ([]row, error) {
	s3srv := httptest.NewUnstartedServer(gofakes3.New(s3mem.New()).Server())
	s3srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s3srv.Start()
	defer s3srv.Close()
	open := func(unsigned bool) (*blobs.S3, error) {
		return blobs.NewS3(ctx, blobs.S3Config{
			Endpoint: strings.TrimPrefix(s3srv.URL, "http://"), Bucket: "h0p-bench", Region: "us-east-1",
			AccessKey: "bench", SecretKey: "bench-secret", CreateBucket: true, UnsignedPayload: unsigned,
		})
	}
	signed, err := open(false)
	if err != nil {
		return nil, err
	}
	unsigned, err := open(true)
	if err != nil {
		return nil, err
	}

	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer sink.Close()
	client := &http.Client{}

	s3put := func(s *blobs.S3) func(string, []byte) error {
		return func(key string, data []byte) error { return s.Put(ctx, key, bytes.NewReader(data), int64(len(data))) }
	}
	s3delete := func(s *blobs.S3) func(string) error {
		return func(key string) error { return s.Delete(ctx, key) }
	}
	var rows []row
	for _, size := range cfg.sizes {
		r, err := interleave(cfg,
			newRunner("HTTP PUT, body discarded", "floor", size, func(key string, data []byte) error {
				req, err := http.NewRequestWithContext(ctx, http.MethodPut, sink.URL+"/"+key, bytes.NewReader(data))
				if err != nil {
					return err
				}
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("sink: %s", resp.Status)
				}
				return nil
			}, nil),
			newRunner("blobs.S3, signed", "store", size, s3put(signed), s3delete(signed)),
			newRunner("blobs.S3, unsigned", "store", size, s3put(unsigned), s3delete(unsigned)),
		)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
