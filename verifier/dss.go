package verifier

import (
	"github.com/emmansun/gmsm/smx509"

	"github.com/jilin-health/cardseal/pdf"
)

// The Document Security Store (PAdES B-LT): /DSS in the catalog, with
// /Certs and /CRLs (arrays of streams holding DER certificates and CRLs)
// and /VRI (one dictionary per signature, keyed by the uppercase hex
// SHA-1 of its /Contents, naming its /Cert and /CRL streams). It is not
// signed by any seal; a document timestamp after it covers it. Its data
// is trusted only as far as it proves itself: a certificate must chain
// to a root of the trust list, a CRL must be signed by one.

// maxDSSEntries bounds the certificates and CRLs read from /DSS: a card
// needs a handful.
const maxDSSEntries = 64

// dssKeys are the keys a store may have; /OCSPs is allowed and ignored
// (the province publishes CRLs only).
var dssKeys = map[pdf.Name]bool{"Type": true, "Certs": true, "CRLs": true, "OCSPs": true, "VRI": true}

// vriKeys are the keys of one /VRI entry.
var vriKeys = map[pdf.Name]bool{"Type": true, "Cert": true, "CRL": true, "OCSP": true, "TU": true}

// readDSS, in an offline verification (Options.Offline), takes the
// certificates and CRLs of the newest /DSS as the only revocation data
// and as further intermediates. A store that cannot be read, or none,
// fails the document: offline, the document must carry what it needs.
func (v *run) readDSS() {
	if !v.opt.Offline {
		return
	}
	v.rep.Offline = true
	f := v.f
	cat, _, err := f.Catalog(f.Latest())
	if err != nil {
		return // reported by the fields' walk
	}
	d, err := f.ResolveDict(f.Latest(), cat.Get("DSS"))
	if err != nil || d == nil {
		v.rep.problem("offline validation: the document carries no Document Security Store (/DSS)")
		return
	}
	v.opt.CRLs = nil // the embedded data alone
	for _, k := range []pdf.Name{"Certs", "CRLs"} {
		o, err := f.Resolve(f.Latest(), d.Get(k))
		arr, ok := o.(pdf.Array)
		if err != nil || (!ok && o != nil) || len(arr) > maxDSSEntries {
			v.rep.problem("offline validation: /DSS /%s is not an array of at most %d streams", k, maxDSSEntries)
			return
		}
		for i, e := range arr {
			so, err := f.Resolve(f.Latest(), e)
			s, ok := so.(*pdf.Stream)
			if err != nil || !ok {
				v.rep.problem("offline validation: /DSS /%s entry %d is not a stream", k, i)
				return
			}
			der, err := f.Decode(s)
			if err != nil {
				v.rep.problem("offline validation: /DSS /%s entry %d: %v", k, i, err)
				return
			}
			if k == "Certs" {
				c, err := smx509.ParseCertificate(der)
				if err != nil {
					v.rep.problem("offline validation: /DSS certificate %d: %v", i, err)
					return
				}
				v.dssCerts = append(v.dssCerts, c)
				continue
			}
			crl, err := smx509.ParseRevocationList(der)
			if err != nil {
				v.rep.problem("offline validation: /DSS CRL %d: %v", i, err)
				return
			}
			v.opt.CRLs = append(v.opt.CRLs, crl)
		}
	}
	if len(v.opt.CRLs) == 0 {
		v.rep.problem("offline validation: /DSS holds no CRL")
	}
}

// newIn reports whether object num is first defined by revision r.
func (v *run) newIn(r, num int) bool {
	if _, erev, ok := v.f.Lookup(r, num); !ok || erev != r {
		return false
	}
	e, _, ok := v.f.Lookup(r-1, num)
	return !ok || e.Type == pdf.Free
}

// allowDSS marks the objects of a new Document Security Store that
// revision r (after the last seal) adds: the store, a new object the
// catalog's /DSS names, and the new certificate and CRL streams and /VRI
// dictionaries it lists. A store of any other shape is not accepted, and
// the catalog's change is then reported.
func (v *run) allowDSS(r int, allowed map[int]bool) {
	f := v.f
	cat, _, err := f.Catalog(r)
	if err != nil {
		return
	}
	prev, _, err := f.Catalog(r - 1)
	if err != nil || v.equal(cat.Get("DSS"), prev.Get("DSS")) {
		return
	}
	ref, ok := cat.Get("DSS").(pdf.Ref)
	if !ok || !v.newIn(r, ref.Num) {
		return
	}
	d, err := f.ResolveDict(r, ref)
	if err != nil || d == nil || !v.step(len(d)) {
		return
	}
	mark := map[int]bool{ref.Num: true}
	// streams takes an array of references to streams; the new ones are
	// the revision's.
	streams := func(o pdf.Object) bool {
		arr, ok := o.(pdf.Array)
		if o == nil {
			return true
		}
		if !ok || len(arr) > maxDSSEntries || !v.step(len(arr)) {
			return false
		}
		for _, e := range arr {
			er, ok := e.(pdf.Ref)
			if !ok {
				return false
			}
			if !v.newIn(r, er.Num) {
				continue // an earlier object, unchanged or judged as changed
			}
			so, err := f.Object(r, er)
			if _, isStream := so.(*pdf.Stream); err != nil || !isStream {
				return false
			}
			mark[er.Num] = true
		}
		return true
	}
	for _, e := range d {
		switch {
		case !dssKeys[e.Key]:
			return
		case e.Key == "Type":
			if n, _ := e.Value.(pdf.Name); n != "DSS" {
				return
			}
		case e.Key == "VRI":
			vri, ok := e.Value.(pdf.Dict)
			if !ok || len(vri) > maxDSSEntries || !v.step(len(vri)) {
				return
			}
			for _, ve := range vri {
				vd, ok := ve.Value.(pdf.Dict)
				if !ok {
					return
				}
				for _, x := range vd {
					switch {
					case !vriKeys[x.Key]:
						return
					case x.Key == "Type" || x.Key == "TU":
					case !streams(x.Value):
						return
					}
				}
			}
		default:
			if !streams(e.Value) {
				return
			}
		}
	}
	for n := range mark {
		allowed[n] = true
	}
	if v.dssRevs == nil {
		v.dssRevs = map[int]bool{}
	}
	v.dssRevs[r] = true
}
