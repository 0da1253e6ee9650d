package verifier

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/seal"
	"github.com/jilin-health/cardseal/tsa"
)

// Long-term validation (PAdES B-LT, B-LTA; issue 17, docs/seal-format.md
// "Long-term validation"). After the last seal a document may carry a
// Document Security Store (dss.go) and document timestamps: signature
// fields whose dictionary is /Type /DocTimeStamp, /SubFilter
// /ETSI.RFC3161, and whose /Contents is a time-stamp token over the SM3
// of the bytes its /ByteRange covers. Each must hold as a seal's
// signature timestamp must (signature, time-stamping certificate trusted
// and not revoked at its time, not in the future), lie after the last
// seal, be invisible, and be later than what it stamps.

// Where the report's validation time comes from (Report.TimeSource).
const (
	// TimeFromDocTimestamp: the latest document timestamp.
	TimeFromDocTimestamp = "document_timestamp"
)

// DocTimestamp is the report of one document timestamp.
type DocTimestamp struct {
	Index    int       `json:"index"`
	Revision int       `json:"revision"`
	Field    string    `json:"field,omitempty"`
	Time     time.Time `json:"time,omitzero"`
	Serial   string    `json:"serial,omitempty"`
	TSA      string    `json:"tsa,omitempty"`
	// TSANotAfter is the end of the time-stamping certificate: the
	// timestamp must be renewed by a later one before it
	// (cardseal renew-timestamps).
	TSANotAfter time.Time `json:"tsa_not_after,omitzero"`
	OK          bool      `json:"ok"`
	Reason      string    `json:"reason,omitempty"`
}

// stampedTime is one timestamp of the document, seal or document
// timestamp, for the archive analysis (archive.go).
type stampedTime struct {
	label   string
	at      time.Time
	tsa     *smx509.Certificate
	root    *smx509.Certificate
	rev     int  // revision the timestamp ends (a seal's for a signature timestamp)
	archive bool // a document timestamp
}

// docStamp is a document timestamp under check.
type docStamp struct {
	found
	rep *DocTimestamp
}

// splitStamps takes the document timestamps out of the signature fields:
// a field whose value is /Type /DocTimeStamp is checked as one, never as
// a seal.
func (v *run) splitStamps(fields []sigField) []sigField {
	f := v.f
	var seals []sigField
	for _, fd := range fields {
		sd, err := f.ResolveDict(f.Latest(), fd.sig)
		if err == nil && sd != nil {
			if t, _ := sd.Name("Type"); t == "DocTimeStamp" {
				v.stamps = append(v.stamps, &docStamp{
					found: found{sigField: fd, rev: -1, report: &Seal{Field: fd.name}},
					rep:   &DocTimestamp{Field: fd.name},
				})
				continue
			}
		}
		seals = append(seals, fd)
	}
	return seals
}

// lastSealRev is the revision of the last seal, -1 without one.
func (v *run) lastSealRev() int {
	last := -1
	for _, s := range v.seals {
		last = max(last, s.rev)
	}
	return last
}

// checkStamps checks every document timestamp, in revision order.
func (v *run) checkStamps() {
	if len(v.stamps) == 0 {
		return
	}
	f := v.f
	for _, d := range v.stamps {
		e, defRev, ok := f.Lookup(f.Latest(), d.sig.Num)
		sd, err := f.ResolveDict(f.Latest(), d.sig)
		if !ok || e.Type != pdf.InUse || err != nil || sd == nil {
			d.rep.Reason = fmt.Sprintf("signature dictionary %v is not a plain object in the file", d.sig)
			continue
		}
		d.docStamp = true
		v.locateDict(&d.found, e, defRev, sd)
		d.rep.Revision = d.rev
	}
	slices.SortStableFunc(v.stamps, func(a, b *docStamp) int { return cmp.Compare(uint(a.rev), uint(b.rev)) })
	lastSeal := v.lastSealRev()
	var prev time.Time
	for i, d := range v.stamps {
		d.rep.Index = i + 1
		if d.rep.Reason == "" {
			if d.stopped {
				d.rep.Reason = d.report.Checks[len(d.report.Checks)-1].Reason
			} else if d.rev <= lastSeal {
				d.rep.Reason = "a document timestamp lies before the last seal"
			} else if i > 0 && d.rev == v.stamps[i-1].rev {
				d.rep.Reason = "two document timestamps end at the same revision"
			} else {
				d.rep.Reason = v.checkStamp(d, prev)
			}
		}
		if !v.alive() {
			return
		}
		d.rep.OK = d.rep.Reason == ""
		if d.rep.OK {
			prev = d.rep.Time
		} else {
			v.rep.problem("document timestamp %d: %s", d.rep.Index, d.rep.Reason)
		}
		v.rep.DocTimestamps = append(v.rep.DocTimestamps, *d.rep)
	}
}

// checkStamp checks one located document timestamp and returns why it
// fails, "" when it holds. prev is the time of the document timestamp
// before it.
func (v *run) checkStamp(d *docStamp, prev time.Time) string {
	raw, reason := v.gap(&d.found)
	if reason != "" {
		return reason
	}
	der, err := seal.TrimPadding(raw)
	if err != nil {
		return err.Error()
	}
	v.work.stamps++
	tok, err := verifiedToken(der)
	if err != nil {
		return err.Error()
	}
	d.rep.Time, d.rep.Serial, d.rep.TSA = tok.GenTime, fmt.Sprintf("%X", tok.Serial), tok.Signer.Subject.CommonName
	d.rep.TSANotAfter = tok.Signer.NotAfter
	digest, err := v.hash.digest(v.ctx, d.a, d.b, d.end)
	if err != nil {
		v.err = canceled(err)
		return "not checked"
	}
	if tok.Hash != tsa.SM3 || !bytes.Equal(tok.Imprint, digest) {
		return "the token does not stamp the bytes of its /ByteRange"
	}
	root, err := v.opt.Trust.Verify(tok.Signer, slices.Concat(tok.Certs, v.dssCerts), tok.GenTime)
	if err != nil {
		return fmt.Sprintf("the time-stamping authority's certificate: %v", err)
	}
	if since, why, ok := v.revokedSince(tok.Signer, root); ok && !tok.GenTime.Before(since) {
		return fmt.Sprintf("the time-stamping authority's certificate %X was revoked (%s) since %s, before the timestamp",
			tok.Signer.SerialNumber, why, since.Format(time.RFC3339))
	}
	if tok.GenTime.After(v.now.Add(clockSkew)) {
		return fmt.Sprintf("timestamp %s lies in the future", tok.GenTime.Format(time.RFC3339))
	}
	// A document timestamp is later than everything it stamps.
	for _, s := range v.seals {
		if !s.report.Timestamp.IsZero() && tok.GenTime.Add(clockSkew).Before(s.report.Timestamp) {
			return fmt.Sprintf("timestamp %s is before seal %d's timestamp", tok.GenTime.Format(time.RFC3339), s.report.Index)
		}
	}
	if !prev.IsZero() && tok.GenTime.Before(prev) {
		return fmt.Sprintf("timestamp %s is before the previous document timestamp", tok.GenTime.Format(time.RFC3339))
	}
	if reason := v.invisible(d); reason != "" {
		return reason
	}
	v.stamped = append(v.stamped, stampedTime{label: fmt.Sprintf("document timestamp %d", d.rep.Index),
		at: tok.GenTime, tsa: tok.Signer, root: root, rev: d.rev, archive: true})
	return ""
}

// invisible requires the document timestamp's widget to draw nothing: an
// empty rectangle and no appearance.
func (v *run) invisible(d *docStamp) string {
	w, err := v.f.ResolveDict(v.f.Latest(), d.widget)
	if err != nil || w == nil {
		return fmt.Sprintf("widget %v: %v", d.widget, err)
	}
	r, ok := numbers(w.Get("Rect"), 4)
	if !ok || r[0] != r[2] && r[1] != r[3] {
		return "the document timestamp's widget is not invisible (its /Rect is not empty)"
	}
	if w.Get("AP") != nil {
		return "the document timestamp's widget has an appearance"
	}
	return ""
}

// gap is the check of a signature's /Contents against its /ByteRange
// gap: it returns the decoded bytes, or why they do not hold.
func (v *run) gap(s *found) ([]byte, string) {
	a, b := s.a, s.b
	if !bytes.HasSuffix(bytes.TrimRight(v.data[s.entry.Offset:a], " \t\r\n\f\x00"), []byte("/Contents")) {
		return nil, "the gap in /ByteRange is not this dictionary's /Contents value"
	}
	if v.data[a] != '<' || v.data[b-1] != '>' {
		return nil, "the gap in /ByteRange is not a hex string"
	}
	if !xrefPoints(v.data, s.revision) {
		return nil, "the signed revision's startxref does not point at its cross-reference section"
	}
	hexGap := v.data[a+1 : b-1]
	raw := make([]byte, hex.DecodedLen(len(hexGap)))
	if _, err := hex.Decode(raw, hexGap); err != nil || len(hexGap)%2 != 0 {
		return nil, "/Contents is not a hex string"
	}
	cv, ok := s.dict.Get("Contents").(pdf.String)
	if !ok || !bytes.Equal(cv.Bytes, raw) {
		return nil, "/Contents differs from the bytes excluded by /ByteRange"
	}
	return raw, ""
}

// stampObjects are the objects a document timestamp of revision r adds:
// its field and widget (new fields and widgets of the form and the page)
// and its signature dictionary.
func (v *run) stampObjects(r int, allowed map[int]bool) (fields, widgets []pdf.Ref) {
	for _, d := range v.stamps {
		if d.rev != r {
			continue
		}
		fields = append(fields, d.field)
		widgets = append(widgets, d.widget)
		allowed[d.field.Num], allowed[d.widget.Num], allowed[d.sig.Num] = true, true, true
	}
	return fields, widgets
}
