package lifecycle

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/jilin-health/cardseal/pdf"
	"github.com/jilin-health/cardseal/signer"
)

// ErrNoNumber is returned when a PDF is not a cardseal card.
var ErrNoNumber = errors.New("no card number in the PDF (not a card rendered by cardseal)")

var numberRE = regexp.MustCompile(`^[0-9]{16}(-(N[0-9]+|F))?$`)

// CardNumber reads the card number of a rendered or sealed card: from its
// seals when it has any (they bind it), else from the document
// information's /Subject that templates writes.
func CardNumber(doc []byte) (string, error) {
	_, signed, err := signer.Existing(doc)
	if err != nil {
		return "", err
	}
	for _, s := range signed {
		if s.Link != nil && s.Link.DocID != "" {
			return s.Link.DocID, nil
		}
	}
	f, err := pdf.Parse(doc)
	if err != nil {
		return "", err
	}
	info, err := f.ResolveDict(f.Latest(), f.Trailer(f.Latest()).Get("Info"))
	if err != nil || info == nil {
		return "", ErrNoNumber
	}
	s, ok := info.Get("Subject").(pdf.String)
	if !ok {
		return "", ErrNoNumber
	}
	n := s.Text()
	if !numberRE.MatchString(n) {
		return "", fmt.Errorf("%w: /Subject %q", ErrNoNumber, n)
	}
	return n, nil
}
