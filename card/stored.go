package card

// Stored is everything the registry keeps encrypted of one card, as it
// is stored: the applicant record with the couple key derived from the
// same data key, every PDF revision, notice, form and attachment, and the
// postal address of every request of the official card by post. A
// rotation of the data key (lifecycle.RotateDataKey) reads it,
// re-encrypts each value and has the store write it back in one
// transaction; it may replace values, never add or remove one.
type Stored struct {
	CardID    string
	Applicant []byte
	CoupleKey string
	// Terms are the card's search terms (Card.Terms), derived from the
	// same data key; a rewrite replaces them all.
	Terms       []string
	PDFs        [][]byte     // revision seq at index seq
	Notices     []Notice     // with their PDFs
	Forms       []Form       // with their PDFs
	Attachments []Attachment // with their data
	Postings    []Posting    // with their encrypted addresses
}
