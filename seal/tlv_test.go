package seal

import (
	"bytes"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// node is a generic DER element, for tests that take a seal apart and
// put it together differently.
type node struct {
	tag      asn1.Tag
	content  []byte  // primitive elements
	children []*node // constructed elements
}

func parseTree(t testing.TB, der []byte) *node {
	t.Helper()
	s := cryptobyte.String(der)
	var n *node
	var ok bool
	if n, ok = readNode(&s); !ok || !s.Empty() {
		t.Fatal("parseTree: bad DER")
	}
	return n
}

func readNode(s *cryptobyte.String) (*node, bool) {
	var body cryptobyte.String
	var tag asn1.Tag
	if !s.ReadAnyASN1(&body, &tag) {
		return nil, false
	}
	n := &node{tag: tag}
	if tag&0x20 == 0 {
		n.content = bytes.Clone(body)
		return n, true
	}
	for !body.Empty() {
		c, ok := readNode(&body)
		if !ok {
			return nil, false
		}
		n.children = append(n.children, c)
	}
	return n, true
}

func (n *node) add(b *cryptobyte.Builder) {
	b.AddASN1(n.tag, func(b *cryptobyte.Builder) {
		if n.tag&0x20 == 0 {
			b.AddBytes(n.content)
			return
		}
		for _, c := range n.children {
			c.add(b)
		}
	})
}

func (n *node) der() []byte {
	var b cryptobyte.Builder
	n.add(&b)
	return b.BytesOrPanic()
}

func (n *node) clone() *node {
	c := &node{tag: n.tag, content: bytes.Clone(n.content)}
	for _, ch := range n.children {
		c.children = append(c.children, ch.clone())
	}
	return c
}

// at follows child indexes.
func (n *node) at(path ...int) *node {
	for _, i := range path {
		n = n.children[i]
	}
	return n
}

func oidNode(oid []byte) *node { return &node{tag: asn1.OBJECT_IDENTIFIER, content: oid} }

// Paths into a seal produced by Sign.
var (
	pSignedData  = []int{1, 0}
	pDigestAlgs  = []int{1, 0, 1}
	pEncap       = []int{1, 0, 2}
	pCerts       = []int{1, 0, 3}
	pSignerInfos = []int{1, 0, 4}
	pSignerInfo  = []int{1, 0, 4, 0}
	pSIDigestAlg = []int{1, 0, 4, 0, 2}
	pAttrs       = []int{1, 0, 4, 0, 3}
	pSigAlg      = []int{1, 0, 4, 0, 4}
	pSignature   = []int{1, 0, 4, 0, 5}
)

// attrIndex returns the index of the signed attribute with the OID.
func attrIndex(t testing.TB, root *node, oid []byte) int {
	t.Helper()
	for i, a := range root.at(pAttrs...).children {
		if bytes.Equal(a.children[0].content, oid) {
			return i
		}
	}
	t.Fatal("attribute not found")
	return -1
}
