// Package verifier checks a PDF's seal chain and fails closed: every seal's
// byte range, CMS signature and certificate; the chain policy (order,
// levels, jurisdiction, the link to the previous seal); and a difference
// analysis of every revision after the first seal, which may add only what
// a later seal adds. The result is a Report whose verdict is valid,
// incomplete or invalid; an error means the file could not be checked.
package verifier

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Verdict is the outcome of a check.
type Verdict string

const (
	// Valid: every seal is genuine, nothing was changed after sealing
	// except by later seals, and the policy's chain is complete.
	Valid Verdict = "valid"
	// Incomplete: genuine so far, but the chain is not complete.
	Incomplete Verdict = "incomplete"
	// Invalid: something failed; the report says what.
	Invalid Verdict = "invalid"
)

// Chinese returns the verdict as shown to people.
func (v Verdict) Chinese() string {
	switch v {
	case Valid:
		return "有效"
	case Incomplete:
		return "审批未完成"
	}
	return "无效"
}

// Check is one named check and its result.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
}

// Names of the checks, stable for clients and tests.
const (
	CheckByteRange   = "byte_range"
	CheckContents    = "contents"
	CheckCMS         = "cms_signature"
	CheckCertificate = "certificate"
	CheckProfile     = "certificate_profile"
	CheckLink        = "chain_link"
	CheckChain       = "chain_policy"
	CheckClaim       = "policy_claim"
	CheckAppearance  = "appearance"
	CheckTime        = "signing_time"
	CheckTimestamp   = "signature_timestamp"
	CheckRevocation  = "revocation"
)

// Where the time a seal's certificate is judged at comes from
// (Seal.TimeSource).
const (
	// TimeFromTimestamp: the seal's signature timestamp (PAdES B-T), a
	// time the signer cannot choose.
	TimeFromTimestamp = "timestamp"
	// TimeFromVerifierClock: the seal has no timestamp; its certificate
	// is judged at the time of the check, and the report says so.
	TimeFromVerifierClock = "verifier_clock"
)

// Seal is the report of one seal.
type Seal struct {
	Index        int       `json:"index"`    // 1-based, in revision order
	Revision     int       `json:"revision"` // 0-based revision the seal ends
	Field        string    `json:"field,omitempty"`
	Level        string    `json:"level,omitempty"`
	Organisation string    `json:"organisation,omitempty"`
	DivisionCode string    `json:"division_code,omitempty"`
	Province     string    `json:"province,omitempty"` // of the root the certificate chains to
	DocID        string    `json:"doc_id,omitempty"`
	CertSerial   string    `json:"cert_serial,omitempty"`
	NotBefore    time.Time `json:"not_before,omitzero"`
	NotAfter     time.Time `json:"not_after,omitzero"`
	SigningTime  time.Time `json:"signing_time,omitzero"`
	Reason       string    `json:"reason,omitempty"`
	SigAlg       string    `json:"signature_algorithm,omitempty"`
	// Timestamp is the time of the seal's signature timestamp, zero when
	// it has none; TimestampSerial and TSA name the token and its
	// authority.
	Timestamp       time.Time `json:"timestamp,omitzero"`
	TimestampSerial string    `json:"timestamp_serial,omitempty"`
	TSA             string    `json:"tsa,omitempty"`
	// ValidationTime is the time the certificate was judged at, and
	// TimeSource where it came from (TimeFromTimestamp or
	// TimeFromVerifierClock).
	ValidationTime time.Time `json:"validation_time,omitzero"`
	TimeSource     string    `json:"time_source,omitempty"`
	// RevokedSince and RevocationReason are set when a CRL lists the
	// certificate: the seal is valid only if made before that time.
	RevokedSince     time.Time `json:"revoked_since,omitzero"`
	RevocationReason string    `json:"revocation_reason,omitempty"`
	// Coverage is "entire_file" when the seal's byte range ends at the
	// end of the file, else "revision" (later revisions follow).
	Coverage string  `json:"coverage"`
	Checks   []Check `json:"checks"`
	OK       bool    `json:"ok"`
}

// Change is one finding of the difference analysis: something a revision
// after a seal changed that a seal may not change.
type Change struct {
	Revision int    `json:"revision"`
	Object   string `json:"object,omitempty"` // "12 0 R" when an object is named
	Reason   string `json:"reason"`
}

// Report is the result of verifying a document.
type Report struct {
	Verdict Verdict `json:"verdict"`
	Policy  string  `json:"policy"`
	// PreReview and Form are the records a claimed policy rests on, as
	// the first seal signs them (rebirth-direct: the pre-review and the
	// re-birth approval form's number, Art. 17).
	PreReview string    `json:"pre_review,omitempty"`
	Form      string    `json:"form,omitempty"`
	DocID     string    `json:"doc_id,omitempty"`
	Revisions int       `json:"revisions"`
	Seals     []Seal    `json:"seals"`
	Changes   []Change  `json:"changes,omitempty"`
	Problems  []string  `json:"problems,omitempty"` // document-level failures
	CheckedAt time.Time `json:"checked_at"`

	// Long-term validation (ltv.go, archive.go). DocTimestamps are the
	// document timestamps (PAdES B-LTA); ValidationTime is the time the
	// document's validity is established at and TimeSource where it
	// comes from (TimeFromDocTimestamp, TimeFromTimestamp or
	// TimeFromVerifierClock); Offline says the revocation data came from
	// the document's /DSS alone. Unprotected names the timestamps whose
	// time-stamping certificate ended or was revoked with no later
	// archive timestamp, and RenewBy is when a new archive timestamp is
	// due.
	DocTimestamps  []DocTimestamp `json:"document_timestamps,omitempty"`
	ValidationTime time.Time      `json:"validation_time,omitzero"`
	TimeSource     string         `json:"time_source,omitempty"`
	Offline        bool           `json:"offline,omitempty"`
	Unprotected    []string       `json:"unprotected_timestamps,omitempty"`
	RenewBy        time.Time      `json:"renew_by,omitzero"`
	// DSSRevisions are the revisions after the last seal whose Document
	// Security Store the difference analysis accepted (0-based, in
	// order); with DocTimestamps they say what the revisions after the
	// last seal added.
	DSSRevisions []int `json:"dss_revisions,omitempty"`

	work work // what the check cost (work.go); not part of the JSON
}

func (r *Report) problem(format string, a ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, a...))
}

// Reasons lists every failure in the report, for messages and tests.
func (r *Report) Reasons() []string {
	var out []string
	out = append(out, r.Problems...)
	for _, s := range r.Seals {
		for _, c := range s.Checks {
			if !c.OK {
				out = append(out, fmt.Sprintf("seal %d: %s: %s", s.Index, c.Name, c.Reason))
			}
		}
	}
	for _, c := range r.Changes {
		if c.Object != "" {
			out = append(out, fmt.Sprintf("revision %d: object %s: %s", c.Revision, c.Object, c.Reason))
		} else {
			out = append(out, fmt.Sprintf("revision %d: %s", c.Revision, c.Reason))
		}
	}
	return out
}

// WriteText writes the report for people (Chinese labels, English
// reasons as the machine gave them).
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "结论 verdict: %s (%s)\n", r.Verdict.Chinese(), r.Verdict)
	if r.DocID != "" {
		fmt.Fprintf(w, "编号 document: %s\n", r.DocID)
	}
	fmt.Fprintf(w, "印章 seals: %d, 修订 revisions: %d, 策略 policy: %s\n", len(r.Seals), r.Revisions, r.Policy)
	if r.Form != "" || r.PreReview != "" {
		fmt.Fprintf(w, "预审 pre-review: %s, 审批表 form: %s\n", r.PreReview, r.Form)
	}
	for _, s := range r.Seals {
		mark := "✓"
		if !s.OK {
			mark = "✗"
		}
		fmt.Fprintf(w, "  %s %d. %s %s %s", mark, s.Index, s.Level, s.DivisionCode, s.Organisation)
		if !s.SigningTime.IsZero() {
			fmt.Fprintf(w, "  %s", s.SigningTime.Local().Format("2006-01-02 15:04:05"))
		}
		fmt.Fprintf(w, "  [%s]\n", s.Coverage)
		if s.Province != "" || s.CertSerial != "" {
			fmt.Fprintf(w, "       certificate %s, %s root, valid %s – %s\n", s.CertSerial, s.Province,
				s.NotBefore.Format("2006-01-02"), s.NotAfter.Format("2006-01-02"))
		}
		switch s.TimeSource {
		case TimeFromTimestamp:
			fmt.Fprintf(w, "       时间戳 timestamp %s (serial %s, %s); certificate judged at it\n",
				s.Timestamp.Local().Format("2006-01-02 15:04:05.000"), s.TimestampSerial, s.TSA)
		case TimeFromVerifierClock:
			fmt.Fprintf(w, "       无时间戳 no timestamp: certificate judged at the verifier's clock, %s\n",
				s.ValidationTime.Local().Format("2006-01-02 15:04:05"))
		}
		if !s.RevokedSince.IsZero() {
			fmt.Fprintf(w, "       certificate revoked (%s) since %s\n", s.RevocationReason, s.RevokedSince.Local().Format("2006-01-02 15:04:05"))
		}
		for _, c := range s.Checks {
			if !c.OK {
				fmt.Fprintf(w, "       ✗ %s: %s\n", c.Name, c.Reason)
			}
		}
	}
	r.writeLTV(w)
	for _, c := range r.Changes {
		fmt.Fprintf(w, "  ✗ 修订 %d 改动 %s: %s\n", c.Revision, c.Object, c.Reason)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  ✗ %s\n", p)
	}
	if r.Verdict == Incomplete {
		var have []string
		for _, s := range r.Seals {
			have = append(have, s.Level)
		}
		fmt.Fprintf(w, "  the chain is not complete yet: sealed %s\n", strings.Join(have, " → "))
	}
}

// writeLTV writes the document timestamps, the validation time and the
// archive findings.
func (r *Report) writeLTV(w io.Writer) {
	for _, d := range r.DocTimestamps {
		mark := "✓"
		if !d.OK {
			mark = "✗"
		}
		fmt.Fprintf(w, "  %s 文档时间戳 document timestamp %d (revision %d): %s (serial %s, %s)",
			mark, d.Index, d.Revision, d.Time.Local().Format("2006-01-02 15:04:05.000"), d.Serial, d.TSA)
		if d.Reason != "" {
			fmt.Fprintf(w, ": %s", d.Reason)
		}
		fmt.Fprintln(w)
	}
	if r.TimeSource != "" {
		src := r.TimeSource
		if r.Offline {
			src += ", offline: revocation data from the document's /DSS"
		}
		fmt.Fprintf(w, "验证时间 validation time: %s (%s)\n", r.ValidationTime.Local().Format("2006-01-02 15:04:05"), src)
	}
	for _, u := range r.Unprotected {
		fmt.Fprintf(w, "  ! %s\n", u)
	}
}
