package api

import (
	"bytes"
	"mime/multipart"
	"testing"
)

// FuzzUpload sends arbitrary bytes to POST /api/v1/verify, raw and as a
// multipart file: whatever the input, the answer is a 200 report or a 4xx
// problem, never a 5xx or a panic.
func FuzzUpload(f *testing.F) {
	v := newEnv(f, Options{MaxUpload: 1 << 20})
	c := v.newCard()
	v.issue(c.ID)
	pdf := v.currentPDF(c.ID)
	f.Add(pdf, false)
	f.Add(pdf[:len(pdf)/2], true)
	f.Add([]byte("%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"), false)
	f.Add([]byte("not a pdf"), true)
	f.Fuzz(func(t *testing.T, data []byte, asMultipart bool) {
		ct, body := "application/pdf", data
		if asMultipart {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("file", "x.pdf")
			fw.Write(data)
			mw.Close()
			ct, body = mw.FormDataContentType(), buf.Bytes()
		}
		v.t = t
		r := v.do("POST", "/api/v1/verify", "", ct, body)
		if r.Code >= 500 {
			t.Fatalf("status %d: %s", r.Code, r.body)
		}
	})
}
