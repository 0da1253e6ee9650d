package verifier

import (
	"errors"
	"fmt"

	"github.com/jilin-health/cardseal/pdf"
)

// The bounds of one verification (issue 12, H1). Every uploaded PDF is
// hostile, so what the verifier does must be bounded by the size of the
// file or by what a cardseal document can hold, never multiplied by a
// count the file chooses: a signature dictionary is checked once however
// many fields name it, seals are hashed in file order so the SM3 state
// carries forward, and the difference analysis has an allowance of steps.
const (
	// maxSigFields is more signature fields than any cardseal document
	// has (a card or a re-birth form has three seals, a notice one). A
	// form with more is invalid before any hashing or CMS work.
	maxSigFields = 16
	// maxFormNodes bounds the form fields walked, of any type.
	maxFormNodes = 1000
	// maxPageNodes bounds the page tree walked at each revision: cardseal
	// documents have one or two pages.
	maxPageNodes = 64
	// maxDiffSteps bounds the difference analysis: cross-reference
	// entries judged, objects resolved, array elements and dictionary
	// entries compared, and 256-byte blocks of stream data compared. An
	// honest card takes a few hundred (TestWorkOfHonestCard).
	maxDiffSteps = 1 << 16
	// maxChanges ends the difference analysis: the verdict is invalid
	// already, and the report stays small.
	maxChanges = 64
	// hashChunk is how much is hashed between two looks at the context.
	hashChunk = 256 << 10
	// The PDF reader's bounds, where Options.Limits leaves them zero. A
	// cardseal document has about a hundred objects of a few elements
	// each; parsing small objects costs per object, not per byte, so the
	// count of objects parsed is bounded, not only the file's size.
	maxXrefEntries = 1 << 15 // cross-reference entries over all revisions
	maxElements    = 1 << 16 // objects parsed (the demo card: 257)
	// decodedAllowance plus the file's size bounds the bytes the reader
	// may inflate (cross-reference and object streams; the verifier never
	// decodes content or images).
	decodedAllowance = 4 << 20
)

// readerLimits fills the zero fields of l with the verifier's bounds.
func readerLimits(l pdf.Limits, size int) pdf.Limits {
	if l.MaxObjects == 0 {
		l.MaxObjects = maxXrefEntries
	}
	if l.MaxElements == 0 {
		l.MaxElements = maxElements
	}
	if l.MaxDecoded == 0 {
		l.MaxDecoded = min(pdf.DefaultLimits.MaxDecoded, decodedAllowance+int64(size))
	}
	return l
}

// ErrCanceled is returned when the context ended before the check did:
// the file could not be checked, which is not a verdict. The error also
// wraps the context's error (context.Canceled or DeadlineExceeded).
var ErrCanceled = errors.New("verification canceled")

func canceled(err error) error { return fmt.Errorf("%w: %w", ErrCanceled, err) }

// work counts what one verification did. It travels in the report for
// tests and benchmarks (export_test.go), not in its JSON: a deterministic
// proxy for CPU time that a loaded CI machine cannot make flaky.
type work struct {
	hashed   int64 // bytes fed to SM3 for the seals' digests
	cms      int   // CMS signature checks (seal.Signed.Verify)
	chains   int   // certificate path validations
	stamps   int   // signature timestamps checked: token signature and TSA path
	diff     int   // steps of the difference analysis
	inflated int64 // bytes the reader inflated (pdf.File.Inflated)
	parsed   int64 // objects the reader parsed (pdf.File.Elements)
}

// alive reports whether the verification may go on; once the context
// has ended it records the error that VerifyContext returns.
func (v *run) alive() bool {
	if v.err != nil {
		return false
	}
	if err := v.ctx.Err(); err != nil {
		v.err = canceled(err)
		return false
	}
	return true
}

// step spends n steps of the difference analysis and reports whether the
// allowance still holds. Once it is spent, comparisons answer "different"
// and changes are no longer recorded, until diff reports the bound.
func (v *run) step(n int) bool {
	v.work.diff += n
	if v.work.diff > maxDiffSteps {
		v.over = true
	}
	return !v.over
}
