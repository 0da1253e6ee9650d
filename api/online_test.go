package api

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/jilin-health/cardseal/card"
	"github.com/jilin-health/cardseal/lifecycle"
	"github.com/jilin-health/cardseal/store/storetest"
)

// Online applications without an account cannot fill the disk or bury a
// village's genuine applications (issue 12, M4).

// idWithCheck completes 17 digits to a resident ID number (GB 11643).
func idWithCheck(first17 string) string {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 17 {
		sum += int(first17[i]-'0') * weights[i]
	}
	return first17 + string("10X98765432"[sum%11])
}

// coupleApp is the example application for the i-th made-up couple,
// received by village, changed by fns.
func coupleApp(t testing.TB, i int, village string, fns ...func(*card.Applicant)) []byte {
	t.Helper()
	return applicantWith(t, func(a *card.Applicant) {
		a.Male.IDNumber = idWithCheck(fmt.Sprintf("22010219800101%03d", 100+2*i))
		a.Female.IDNumber = idWithCheck(fmt.Sprintf("22010219820202%03d", 101+2*i))
		a.Village = village
		for _, fn := range fns {
			fn(a)
		}
	})
}

func (v *env) applyOnline(t *testing.T, app []byte, files map[string][]byte) *resp {
	t.Helper()
	if files == nil {
		return v.do(http.MethodPost, "/api/v1/applications", "", "application/json", app)
	}
	body, ct := multipartApplication(t, app, files)
	return v.do(http.MethodPost, "/api/v1/applications", "", ct, body)
}

// cardsOf counts the cards of a village in the registry.
func (v *env) cardsOf(t *testing.T, village string) int {
	t.Helper()
	cards, err := v.st.ListCards(context.Background(), card.Filter{CodePrefix: village, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(cards)
}

// TestOnlineOneOpenApplicationPerCouple: while a couple's application of
// a type is under review — taken at the counter or online — another
// online one is 409 application-open; once refused, the couple may apply
// again. Several identical submissions at once record exactly one.
func TestOnlineOneOpenApplicationPerCouple(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		app := coupleApp(t, 1, "220102001001")
		counter := v.create(t, app)
		p := expectProblem(t, v.applyOnline(t, app, nil), http.StatusConflict, "application-open")
		if !bytes.Contains([]byte(p.Detail), []byte("正在办理中")) {
			t.Fatalf("detail %q", p.Detail)
		}
		if r := v.postJSON("/api/v1/cards/"+counter.ID+"/refuse", v.session("220102001001"), RefuseRequest{Reasons: []string{"材料不实"}}); r.Code != http.StatusCreated {
			t.Fatalf("refuse: %d %s", r.Code, r.body)
		}
		if r := v.applyOnline(t, app, nil); r.Code != http.StatusCreated {
			t.Fatalf("online application after the refusal: %d %s", r.Code, r.body)
		}
		expectProblem(t, v.applyOnline(t, app, nil), http.StatusConflict, "application-open")
		// Another card type for the same couple is another application.
		second := coupleApp(t, 1, "220102001001", func(a *card.Applicant) { a.Type, a.ChildOrder = card.Second, 2 })
		if r := v.applyOnline(t, second, nil); r.Code != http.StatusCreated {
			t.Fatalf("a second-child application of the same couple: %d %s", r.Code, r.body)
		}

		// Six identical submissions at once: one is recorded.
		twin := coupleApp(t, 2, "220102001001")
		before := v.cardsOf(t, "220102001001")
		codes := make([]int, 6)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = v.applyOnline(t, twin, nil).Code
			}()
		}
		wg.Wait()
		created := 0
		for _, c := range codes {
			switch c {
			case http.StatusCreated:
				created++
			case http.StatusConflict, http.StatusTooManyRequests:
			default:
				t.Fatalf("concurrent submissions answered %v", codes)
			}
		}
		if created != 1 || v.cardsOf(t, "220102001001") != before+1 {
			t.Fatalf("six identical submissions at once: answers %v, %d cards recorded", codes, v.cardsOf(t, "220102001001")-before)
		}
	})
}

// noisePNG is an incompressible PNG of about n bytes.
func noisePNG(t *testing.T, n int) []byte {
	t.Helper()
	side := 1
	for side*side*4 < n {
		side++
	}
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(r.Uint32())
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestOnlineDailyQuota: a village takes a bounded number of online
// applications and bytes of materials a day; beyond, 429 online-quota
// with Retry-After, and nothing is stored. Other villages, and
// applications taken at the counter, are not affected.
func TestOnlineDailyQuota(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, open storetest.Opener) {
		v := newProcEnv(t, open)
		v.svc.OnlineQuota = lifecycle.OnlineQuota{Applications: 3, Bytes: 600 << 10}
		const village, other = "220102001001", "220102002001"
		for i := range 3 {
			if r := v.applyOnline(t, coupleApp(t, 10+i, village), nil); r.Code != http.StatusCreated {
				t.Fatalf("online application %d: %d %s", i+1, r.Code, r.body)
			}
		}
		r := v.applyOnline(t, coupleApp(t, 13, village), nil)
		p := expectProblem(t, r, http.StatusTooManyRequests, "online-quota")
		if ra, err := strconv.Atoi(r.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 86400 {
			t.Fatalf("Retry-After %q", r.Header().Get("Retry-After"))
		}
		if !bytes.Contains([]byte(p.Detail), []byte("现场申请")) {
			t.Fatalf("detail %q", p.Detail)
		}
		if n := v.cardsOf(t, village); n != 3 {
			t.Fatalf("%d cards in the village after the refused application, want 3", n)
		}
		// The counter still takes applications, and the queue shows them.
		counter := v.create(t, coupleApp(t, 14, village))
		var q struct{ Cards []CardView }
		v.do(http.MethodGet, "/api/v1/queue?limit=1000", v.session(village), "", nil).json(t, &q)
		found := false
		for _, c := range q.Cards {
			found = found || c.ID == counter.ID
		}
		if !found || len(q.Cards) != 4 {
			t.Fatalf("the village's queue: %d cards, the counter application listed %t", len(q.Cards), found)
		}

		// Bytes: 400 KB of photos fit in 600 KB, another 400 KB do not.
		photo := noisePNG(t, 400<<10)
		if len(photo) < 400<<10 {
			t.Fatalf("photo of %d bytes", len(photo))
		}
		if r := v.applyOnline(t, coupleApp(t, 20, other), map[string][]byte{"id_cards": photo}); r.Code != http.StatusCreated {
			t.Fatalf("application with a photo: %d %s", r.Code, r.body)
		}
		expectProblem(t, v.applyOnline(t, coupleApp(t, 21, other), map[string][]byte{"id_cards": photo}), http.StatusTooManyRequests, "online-quota")
		if n := v.cardsOf(t, other); n != 1 {
			t.Fatalf("%d cards in the other village, want 1", n)
		}
		// Without materials the other village still has applications left.
		if r := v.applyOnline(t, coupleApp(t, 22, other), nil); r.Code != http.StatusCreated {
			t.Fatalf("application without materials: %d %s", r.Code, r.body)
		}
	})
}

// pngBomb is a genuine PNG of width×height grey pixels, all zero: a few
// hundred kilobytes that decode to width×height bytes.
func pngBomb(t *testing.T, width, height int) []byte {
	t.Helper()
	chunk := func(b *bytes.Buffer, typ string, data []byte) {
		binary.Write(b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(b, binary.BigEndian, crc.Sum32())
	}
	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	row := make([]byte, 1+width) // filter byte 0, then the pixels
	for range height {
		zw.Write(row)
	}
	zw.Close()
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(width))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(height))
	ihdr[8], ihdr[9] = 8, 0 // 8-bit greyscale
	chunk(&b, "IHDR", ihdr)
	chunk(&b, "IDAT", idat.Bytes())
	chunk(&b, "IEND", nil)
	return b.Bytes()
}

// TestImageBombRefusedCheaply: a 20000×20000 PNG (400 million pixels in
// under 1 MB) is refused by its header, without decoding: checking it
// allocates less than 1 MiB (decoding would take 400 MB). A photo of
// ordinary size passes.
func TestImageBombRefusedCheaply(t *testing.T) {
	bomb := pngBomb(t, 20000, 20000)
	if len(bomb) > 1<<20 {
		t.Fatalf("bomb of %d bytes", len(bomb))
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(bomb)); err != nil || cfg.Width != 20000 || cfg.ColorModel != color.GrayModel {
		t.Fatalf("the bomb is not a PNG of 20000 pixels a side: %+v %v", cfg, err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ct := MaterialType(bomb)
	runtime.ReadMemStats(&after)
	if ct != "" {
		t.Fatalf("the bomb accepted as %s", ct)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("checking the bomb allocated %d bytes", n)
	}
	for _, tc := range []struct {
		w, h int
		ok   bool
	}{{4000, 3000, true}, {MaxImageSide, 5000, true}, {MaxImageSide + 1, 10, false}, {8000, 7000, false}} {
		if got := MaterialType(pngBomb(t, tc.w, tc.h)) != ""; got != tc.ok {
			t.Errorf("%d×%d accepted %t, want %t", tc.w, tc.h, got, tc.ok)
		}
	}

	v := newEnv(t, Options{})
	expectProblem(t, v.applyOnline(t, coupleApp(t, 30, "220102001001"), map[string][]byte{"id_cards": bomb}), http.StatusUnsupportedMediaType, "bad-material")
	if n := v.cardsOf(t, "220102001001"); n != 0 {
		t.Fatalf("%d cards after the refused bomb", n)
	}
}
