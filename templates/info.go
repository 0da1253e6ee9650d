package templates

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// StatusIndexKey is the entry of a card's document information that holds
// the card's index in the signed status list (docs/status-list.md). It is
// written into revision 0, which every seal covers, so that a card PDF
// whose seals verify can be checked against a status list with no
// network: the version-2 QR token carries nothing but a random handle.
const StatusIndexKey = "CardsealStatusIndex"

// addInfoInts adds integer entries to the document information of a PDF
// written by gopdf. gopdf writes /Info as a direct dictionary inside the
// trailer, after the cross-reference table, and offers no custom entries;
// inserting into the trailer moves no object, so every offset in the
// cross-reference table stays right. Entries are written in key order.
func addInfoInts(doc []byte, entries map[string]int) ([]byte, error) {
	if len(entries) == 0 {
		return doc, nil
	}
	t := bytes.LastIndex(doc, []byte("\ntrailer\n<<\n"))
	if t < 0 {
		return nil, errors.New("document information: no trailer")
	}
	i := bytes.Index(doc[t:], []byte("/Info <<\n"))
	if i < 0 {
		return nil, errors.New("document information: no /Info dictionary in the trailer")
	}
	at := t + i + len("/Info <<\n")
	var add []byte
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		for j := 0; j < len(k); j++ {
			if c := k[j]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return nil, fmt.Errorf("document information: key %q is not a plain name", k)
			}
		}
		add = append(add, '/')
		add = append(add, k...)
		add = append(add, ' ')
		add = strconv.AppendInt(add, int64(entries[k]), 10)
		add = append(add, '\n')
	}
	out := make([]byte, 0, len(doc)+len(add))
	out = append(out, doc[:at]...)
	out = append(out, add...)
	return append(out, doc[at:]...), nil
}
