// Package signer applies one seal to a PDF as one incremental revision
// (ISO 32000-1 §12.8): a signature field with its widget and seal
// picture, a signature dictionary whose /Contents is the seal's CMS
// (package seal), the page's /Annots and the /AcroForm extended, and a
// new cross-reference section of the same kind as the input's last one.
// Earlier bytes are never rewritten.
//
// Before writing anything, Seal reads the seals already in the document
// and asks the chain policy whether this organisation may seal next; the
// policy's errors (chain.ErrOutOfOrder, …) are returned wrapped.
package signer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jilin-health/cardseal/chain"
	"github.com/jilin-health/cardseal/keys"
	"github.com/jilin-health/cardseal/org"
	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/seal"
)

// Errors callers branch on. Chain refusals wrap the chain package's
// sentinels instead.
var (
	// ErrMalformedPDF: the input is not a PDF this package can extend.
	// It is returned together with the pdf.ErrMalformed cause.
	ErrMalformedPDF = errors.New("signer: malformed PDF")
	// ErrEncrypted: the document is encrypted.
	ErrEncrypted = errors.New("signer: encrypted PDF")
	// ErrLocked: a certification signature forbids any change (DocMDP P=1).
	ErrLocked = errors.New("signer: document locked by its certification signature")
	// ErrNoPage: the requested page does not exist.
	ErrNoPage = errors.New("signer: no such page")
	// ErrBadRect: the seal rectangle is empty or outside the page.
	ErrBadRect = errors.New("signer: bad seal rectangle")
	// ErrDocID: the request's document ID differs from the existing seals'.
	ErrDocID = errors.New("signer: document ID differs from the existing seals")
	// ErrOrgMismatch: the request's organisation is not the one the
	// identity's certificate was issued to.
	ErrOrgMismatch = errors.New("signer: organisation does not match the seal certificate")
	// ErrRequest: the request is incomplete.
	ErrRequest = errors.New("signer: invalid request")
)

// Rect is a rectangle in PDF points: lower-left x, y, upper-right x, y.
type Rect [4]float64

// Width returns urx-llx.
func (r Rect) Width() float64 { return r[2] - r[0] }

// Height returns ury-lly.
func (r Rect) Height() float64 { return r[3] - r[1] }

// Request is one seal to apply.
type Request struct {
	Identity   *keys.Identity
	Org        org.Org // the sealing organisation; its Level is the seal's level
	Policy     chain.Policy
	Page       int // 0-based
	Rect       Rect
	Appearance *Appearance
	Reason     string // e.g. 村级审核通过
	Location   string
	// ContactInfo is optional.
	ContactInfo string
	DocID       string // the card number, bound in the seal's link attribute
	Time        time.Time
	// GBContentTypes selects the GB/T 35275 content-type OIDs instead of
	// RFC 5652's.
	GBContentTypes bool
	// Timestamper, when set, stamps the seal's signature value (PAdES
	// B-T): the token goes into the CMS as the unsigned attribute
	// id-aa-signatureTimeStampToken, and /Contents is sized for it.
	Timestamper Timestamper
	// Context bounds the timestamp's request (default: 30 seconds).
	Context context.Context
	// Claim, when set, names the chain policy in the seal's signed
	// attributes (seal.Claim): a document that does not follow its
	// type's ordinary policy says so under its first seal.
	Claim *seal.Claim
}

// Timestamper issues time-stamp tokens over signature values (package
// tsa's Authority).
type Timestamper interface {
	StampSignature(ctx context.Context, signature []byte) ([]byte, error)
	// MaxTokenSize is an upper bound of a token's DER length (0: unknown).
	MaxTokenSize() int
}

// ErrTimestamp: the signature timestamp could not be had; nothing was
// sealed.
var ErrTimestamp = errors.New("signer: no signature timestamp")

func (r *Request) validate() error {
	switch {
	case r == nil:
		return fmt.Errorf("%w: nil request", ErrRequest)
	case r.Identity == nil || r.Identity.Signer == nil || r.Identity.Cert == nil:
		return fmt.Errorf("%w: no identity", ErrRequest)
	case r.Appearance == nil:
		return fmt.Errorf("%w: no appearance", ErrRequest)
	case r.DocID == "":
		return fmt.Errorf("%w: no document ID", ErrRequest)
	case r.Time.IsZero():
		return fmt.Errorf("%w: no signing time", ErrRequest)
	case r.Page < 0:
		return fmt.Errorf("%w: page %d", ErrNoPage, r.Page)
	}
	if !r.Org.Level.Valid() || len(r.Org.Code) != r.Org.Level.CodeLen() {
		return fmt.Errorf("%w: organisation %q level %q", ErrRequest, r.Org.Code, r.Org.Level)
	}
	o, err := keys.Profile(r.Identity.Cert)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRequest, err)
	}
	if o.Level != r.Org.Level || o.Code != r.Org.Code {
		return fmt.Errorf("%w: certificate of %s %s, request for %s %s", ErrOrgMismatch, o.Level, o.Code, r.Org.Level, r.Org.Code)
	}
	for _, v := range r.Rect {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: %v", ErrBadRect, r.Rect)
		}
	}
	if r.Rect.Width() <= 0 || r.Rect.Height() <= 0 {
		return fmt.Errorf("%w: %v is empty", ErrBadRect, r.Rect)
	}
	return nil
}

// cst is the zone of the signing-time strings (/M) the card shows.
var cst = time.FixedZone("CST", 8*3600)

// Seal applies req's seal to the PDF in and returns the whole new file:
// in followed by one incremental revision. It never modifies in.
func Seal(in []byte, req *Request) ([]byte, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	f, err := pdf.Parse(in)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedPDF, err)
	}
	if f.Trailing != nil {
		return nil, fmt.Errorf("%w: %d bytes after the last %%%%EOF", ErrMalformedPDF, len(f.Trailing))
	}
	if f.Encrypted() {
		return nil, ErrEncrypted
	}
	rev := f.Latest()
	cat, catRef, err := f.Catalog(rev)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedPDF, err)
	}
	fm, err := readForm(f, rev, cat)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedPDF, err)
	}
	locked, err := docMDPLocked(f, rev, cat)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedPDF, err)
	}
	if locked {
		return nil, ErrLocked
	}
	prev, signed := fm.seals()
	for _, s := range signed {
		if s.Link.DocID != req.DocID {
			return nil, fmt.Errorf("%w: sealed as %q, request for %q", ErrDocID, s.Link.DocID, req.DocID)
		}
	}
	if err := req.Policy.Check(prev, chain.Seal{Level: req.Org.Level, Code: req.Org.Code}); err != nil {
		return nil, fmt.Errorf("signer: %s seal by %s: %w", req.Org.Level, req.Org.Code, err)
	}
	link := seal.Link{Level: req.Org.Level, Code: req.Org.Code, DocID: req.DocID}
	if len(signed) > 0 {
		link.Prev = seal.Digest(signed[len(signed)-1].DER)
	}
	page, err := f.Page(rev, req.Page)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedPDF, err)
	}
	if page == nil {
		return nil, fmt.Errorf("%w: page %d", ErrNoPage, req.Page)
	}
	if err := checkRect(req.Rect, page.MediaBox); err != nil {
		return nil, err
	}
	opt := seal.Options{GBContentTypes: req.GBContentTypes, Claim: req.Claim}
	if ts := req.Timestamper; ts != nil {
		ctx := req.Context
		if ctx == nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
		}
		opt.StampSize = ts.MaxTokenSize()
		if opt.StampSize <= 0 {
			return nil, fmt.Errorf("%w: the time-stamping authority cannot size its tokens", ErrTimestamp)
		}
		opt.Stamp = func(sig []byte) ([]byte, error) {
			tok, err := ts.StampSignature(ctx, sig)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrTimestamp, err)
			}
			return tok, nil
		}
	}
	maxSize := seal.MaxSize(req.Identity, link, opt)
	if maxSize <= 0 {
		return nil, fmt.Errorf("%w: cannot size the seal for this identity", ErrRequest)
	}
	u := &update{
		f: f, rev: rev, in: in, req: req, cat: cat, catRef: catRef, page: page, form: fm,
		certify:  len(fm.sigs) == 0 && cat.Get("Perms") == nil,
		contents: maxSize,
	}
	out, err := u.write()
	if err != nil {
		return nil, err
	}
	digest := u.digest(out)
	der, err := seal.Sign(digest, req.Identity, link, req.Time, opt)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	if err := u.fill(out, der); err != nil {
		return nil, err
	}
	return out, nil
}

// checkRect requires r inside the page's MediaBox.
func checkRect(r Rect, box pdf.Array) error {
	var mb [4]float64
	for i, o := range box {
		v, ok := pdf.Number(o)
		if !ok {
			return fmt.Errorf("%w: page /MediaBox is not numeric", ErrMalformedPDF)
		}
		mb[i] = v
	}
	llx, urx := min(mb[0], mb[2]), max(mb[0], mb[2])
	lly, ury := min(mb[1], mb[3]), max(mb[1], mb[3])
	if r[0] < llx || r[1] < lly || r[2] > urx || r[3] > ury {
		return fmt.Errorf("%w: %v outside the page %v", ErrBadRect, r, mb)
	}
	return nil
}

// docMDPLocked reports whether a certification signature forbids changes.
func docMDPLocked(f *pdf.File, rev int, cat pdf.Dict) (bool, error) {
	perms, err := f.ResolveDict(rev, cat.Get("Perms"))
	if err != nil || perms == nil {
		return false, err
	}
	sig, err := f.ResolveDict(rev, perms.Get("DocMDP"))
	if err != nil || sig == nil {
		return false, err
	}
	refs, err := f.Resolve(rev, sig.Get("Reference"))
	if err != nil {
		return false, err
	}
	arr, _ := refs.(pdf.Array)
	for _, r := range arr {
		sr, err := f.ResolveDict(rev, r)
		if err != nil {
			return false, err
		}
		if m, _ := sr.Name("TransformMethod"); m != "DocMDP" {
			continue
		}
		tp, err := f.ResolveDict(rev, sr.Get("TransformParams"))
		if err != nil {
			return false, err
		}
		if p, ok := tp.Int("P"); ok && p == 1 {
			return true, nil
		}
	}
	return false, nil
}
