package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// devProcess is h0p dev running as a process of its own on dataDir.
type devProcess struct {
	cmd        *exec.Cmd
	api, admin string
	key        string // printed on first start
	stderr     bytes.Buffer
	dataDir    string
}

func startDevProcess(t *testing.T, dataDir string) *devProcess {
	t.Helper()
	p := &devProcess{api: freeAddr(t), admin: freeAddr(t), dataDir: dataDir}
	p.cmd = exec.Command(os.Args[0])
	p.cmd.Env = append(os.Environ(), "H0P_TEST_AS_MAIN=1",
		"H0P_TEST_ARGS=dev --data "+dataDir+" --api-addr "+p.api+" --edge-addr "+freeAddr(t)+
			" --admin-addr "+p.admin+" --raft-addr "+freeAddr(t)+" --log-level warn")
	p.cmd.Stderr = &p.stderr
	stdout, _ := p.cmd.StdoutPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	keys := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if k, ok := strings.CutPrefix(sc.Text(), "H0P_API_KEY="); ok {
				keys <- k
			}
		}
		close(keys)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + p.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case p.key = <-keys:
	case <-time.After(100 * time.Millisecond):
	}
	return p
}

func (p *devProcess) request(t *testing.T, key, method, path, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.api+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestDevFilesSurviveRestartAndAKilledUpload: an upload's bytes survive a
// restart byte for byte, and a kill -9 while a large upload is half sent
// leaves no file row, no stored bytes and no temporary file.
func TestDevFilesSurviveRestartAndAKilledUpload(t *testing.T) {
	dataDir := t.TempDir()
	p := startDevProcess(t, dataDir)
	key := p.key
	if key == "" {
		t.Fatal("no bootstrap key printed")
	}
	img := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var pngBytes bytes.Buffer
	png.Encode(&pngBytes, img)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", "photo.png")
	w.Write(pngBytes.Bytes())
	mw.Close()
	status, b := p.request(t, key, "POST", "/v1/files", mw.FormDataContentType(), body.Bytes())
	var f struct{ ID, SHA256 string }
	if json.Unmarshal(b, &f); status != 201 || f.ID == "" {
		t.Fatalf("upload: %d %s", status, b)
	}
	sum := sha256.Sum256(pngBytes.Bytes())
	if f.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("sha256 %s, want %x", f.SHA256, sum)
	}

	// Half of a 9 MiB upload, then kill -9.
	conn, err := net.Dial("tcp", p.api)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const size = 9 << 20
	fmt.Fprintf(conn, "POST /v1/files?name=big.png HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", p.api, key, size)
	half := bytes.Repeat(pngBytes.Bytes()[:1024], size/2/1024)
	if _, err := conn.Write(half); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the server read it
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()

	p = startDevProcess(t, dataDir)
	status, b = p.request(t, key, "GET", "/v1/files", "", nil)
	var list struct{ Data []struct{ ID string } }
	if json.Unmarshal(b, &list); status != 200 || len(list.Data) != 1 || list.Data[0].ID != f.ID {
		t.Fatalf("files after the kill: %d %s, want only %s", status, b, f.ID)
	}
	status, b = p.request(t, key, "GET", "/v1/files/"+f.ID+"/content", "", nil)
	if got := sha256.Sum256(b); status != 200 || got != sum {
		t.Fatalf("content after restart: %d, sha256 %x, want %x", status, got, sum)
	}
	// On disk: the one object, nothing else (no temporary file, no part).
	var stored []string
	filepath.WalkDir(filepath.Join(dataDir, "control", "files"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			stored = append(stored, filepath.Base(path))
		}
		return nil
	})
	if len(stored) != 1 || !strings.HasSuffix(f.SHA256, stored[0]) {
		t.Errorf("files on disk %v, want the one object %s", stored, f.SHA256)
	}
}
