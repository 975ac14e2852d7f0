package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/store/sqlstore"
	"github.com/h0p/h0p/shared/apierror"
)

// A 4xx is saved when its handler says it changed something first; other
// 4xx free the key.
func TestIdempotencyChangedAnywaySavesA4xx(t *testing.T) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "control.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &handler{Config{Store: st, Pepper: []byte("pepper"), Now: time.Now, Logger: slog.New(slog.DiscardHandler)}}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	runs := map[string]int{}
	caller := func(c *gin.Context) { c.Set(ctxPrincipal, access.Principal{OrgID: "org_1", UserID: "usr_1"}) }
	r.Use(requestID)
	r.POST("/changed", caller, h.idempotent(route{method: "POST"}), func(c *gin.Context) {
		runs["changed"]++
		changedAnyway(c)
		h.fail(c, apierror.Invalid("file", "too long"))
	})
	r.POST("/refused", caller, h.idempotent(route{method: "POST"}), func(c *gin.Context) {
		runs["refused"]++
		h.fail(c, apierror.Invalid("file", "too long"))
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	post := func(path string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader("a,b"))
		req.Header.Set("Idempotency-Key", "k-"+path)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for range 2 {
		if resp := post("/changed"); resp.StatusCode != 400 {
			t.Fatalf("changed: %d", resp.StatusCode)
		}
		post("/refused")
	}
	if resp := post("/changed"); resp.Header.Get(replayedHeader) != "true" {
		t.Error("the 4xx after a change was not replayed")
	}
	if runs["changed"] != 1 || runs["refused"] != 2 {
		t.Errorf("runs %v, want changed 1, refused 2", runs)
	}
}
