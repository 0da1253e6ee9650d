package api

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestUploadGate: with n uploads held inside the verification gate (by a
// hook, not by timing), the next upload is refused at once, 503 with
// Retry-After, as a stable problem on the API and a Chinese page on
// /upload; the held ones then finish, and the slots are free again.
func TestUploadGate(t *testing.T) {
	const n = 2
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	v := newEnv(t, Options{MaxVerifications: n, inGate: func() {
		if calls.Add(1) <= n {
			entered <- struct{}{}
			<-release
		}
	}})
	c := v.newCard()
	v.issue(c.ID)
	doc := v.currentPDF(c.ID) // the store keeps it encrypted (M1)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = v.do(http.MethodPost, "/api/v1/verify", "", "application/pdf", doc).Code })
	}
	for range n {
		<-entered
	}

	r := v.do(http.MethodPost, "/api/v1/verify", "", "application/pdf", doc)
	expectProblem(t, r, http.StatusServiceUnavailable, "busy")
	if r.Header().Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q", r.Header().Get("Retry-After"))
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "card.pdf")
	fw.Write(doc)
	mw.Close()
	page := v.do(http.MethodPost, "/upload", "", mw.FormDataContentType(), buf.Bytes())
	if page.Code != http.StatusServiceUnavailable || page.Header().Get("Retry-After") != "2" ||
		!strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") || !strings.Contains(page.Body.String(), "同时核验的文件过多，请稍后再试。") {
		t.Errorf("upload page while busy: %d %q %q", page.Code, page.Header().Get("Retry-After"), page.Header().Get("Content-Type"))
	}
	if !strings.Contains(v.logs.String(), "all 2 verification slots taken") {
		t.Error("the refusal is not logged with its cause")
	}

	close(release)
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Errorf("held upload %d: %d", i, code)
		}
	}
	if r := v.do(http.MethodPost, "/api/v1/verify", "", "application/pdf", doc); r.Code != http.StatusOK {
		t.Fatalf("upload after the held ones finished: %d %s", r.Code, r.body)
	}
}

// TestUploadUnderRequestContext: the verifier runs under the request's
// context; a request whose context has ended gets 503, not a verdict.
func TestUploadUnderRequestContext(t *testing.T) {
	v := newEnv(t, Options{})
	c := v.newCard()
	v.issue(c.ID)
	doc := v.currentPDF(c.ID) // the store keeps it encrypted (M1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v1/verify", bytes.NewReader(doc))
	req.RemoteAddr = "192.0.2.10:40000"
	req.Header.Set("Content-Type", "application/pdf")
	expectProblem(t, v.serve(req), http.StatusServiceUnavailable, "timeout")
	if !strings.Contains(v.logs.String(), "verification canceled: context canceled") {
		t.Error("the log does not say the verification was canceled")
	}
}
