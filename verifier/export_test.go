package verifier

// What the tests of package verifier_test may see of the internals.

// Work is what one verification did (work.go).
type Work struct {
	Hashed    int64 // bytes fed to SM3
	CMS       int   // CMS signature checks
	Chains    int   // certificate path validations
	Stamps    int   // signature timestamps checked (token signature and TSA path)
	DiffSteps int   // steps of the difference analysis
	Inflated  int64 // bytes the PDF reader inflated
	Parsed    int64 // objects the PDF reader parsed
}

// WorkOf returns the work counted for the report.
func WorkOf(r *Report) Work {
	w := r.work
	return Work{Hashed: w.hashed, CMS: w.cms, Chains: w.chains, Stamps: w.stamps, DiffSteps: w.diff, Inflated: w.inflated, Parsed: w.parsed}
}

// WithHashHook returns opt with fn called after every chunk hashed, with
// the bytes hashed so far.
func WithHashHook(opt Options, fn func(hashed int64)) Options {
	opt.onHash = fn
	return opt
}

// The bounds of work.go.
const (
	MaxSigFields = maxSigFields
	MaxDiffSteps = maxDiffSteps
	MaxChanges   = maxChanges
	HashChunk    = hashChunk
	// DecodedAllowance is what the reader may inflate beyond the file's
	// size.
	DecodedAllowance = decodedAllowance
	MaxElements      = maxElements
)
