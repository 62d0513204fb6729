package projections

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWords(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ab", 40)
	cases := []struct {
		text string
		want []string
	}{
		{"Hello, World!", []string{"hello", "world"}},
		{"Réponse ÉTÉ garçon Straße œuvre", []string{"reponse", "ete", "garcon", "strasse", "oeuvre"}},
		{"Re\u0301ponse", []string{"reponse"}}, // decomposed accent
		{"n°4521-b, +33 6 12", []string{"n", "4521", "b", "33", "6", "12"}},
		{"alice.martin@example.com", []string{"alice", "martin", "example", "com"}},
		{"tab\there\nnew  line", []string{"tab", "here", "new", "line"}},
		{"Ölçek İstanbul", []string{"olcek", "istanbul"}},
		{"日本語のテキスト", []string{"日本語のテキスト"}},
		{long, []string{long[:maxTermBytes]}},
		{strings.Repeat("é", 40), []string{strings.Repeat("e", 40)}},
		{strings.Repeat("ж", 40), []string{strings.Repeat("ж", maxTermBytes/2)}},
		{"?! … --", nil},
		{"", nil},
	}
	for _, c := range cases {
		var got []string
		words(c.text, func(w string) { got = append(got, w) })
		if !slices.Equal(got, c.want) {
			t.Errorf("words(%q) = %q, want %q", c.text, got, c.want)
		}
		for _, w := range got {
			if !utf8.ValidString(w) || len(w) > maxTermBytes {
				t.Errorf("words(%q) made %q", c.text, w)
			}
		}
	}
}

func TestQueryWords(t *testing.T) {
	t.Parallel()
	const id = "0f8b5f52-8a3c-4a55-9d54-3c2b7b8e1a01"
	w := func(p string) queryWord { return queryWord{prefix: p, exact: utf8.RuneCountInString(p) < minPrefix} }
	cases := []struct {
		q    string
		want []queryWord
	}{
		{"Refund parcel", []queryWord{w("refund"), w("parcel")}},
		{"ref refund", []queryWord{w("refund")}},
		{"refund refund REFUND", []queryWord{w("refund")}},
		{"a de the", []queryWord{w("a"), w("de"), w("the")}},
		{"+33612345678", []queryWord{w("33612345678")}},
		{id, []queryWord{{id: id}}},
		{strings.ToUpper(id[:13]), []queryWord{{id: id[:13]}}},
		{id[:8], []queryWord{{prefix: id[:8], id: id[:8]}}},
		{"deadbeef dead", []queryWord{{prefix: "deadbeef", id: "deadbeef"}, w("dead")}},
		{"0f8b5f5", []queryWord{w("0f8b5f5")}},
		{"?!", nil},
	}
	for _, c := range cases {
		if got := queryWords(c.q); !slices.Equal(got, c.want) {
			t.Errorf("queryWords(%q) = %+v, want %+v", c.q, got, c.want)
		}
	}
}

// TestPostings: rows encode and decode as a set, and rows put end to end
// read as their union.
func TestPostings(t *testing.T) {
	t.Parallel()
	const bucket = 3
	base := int64(bucket) << bucketBits
	a := []int64{base, base + 1, base + 200, base + 1<<bucketBits - 1}
	b := []int64{base + 5, base + 200}
	for _, ps := range [][]int64{a, b, {base + 7}} {
		got, err := decodePostings(bucket, encodePostings(bucket, ps), nil)
		if err != nil || !slices.Equal(got, ps) {
			t.Fatalf("%v came back as %v, %v", ps, got, err)
		}
		if slices.Contains(encodePostings(bucket, ps), 0) {
			t.Fatalf("%v encodes with a zero byte", ps)
		}
	}
	both := append(encodePostings(bucket, a), encodePostings(bucket, b)...)
	got, err := decodePostings(bucket, both, nil)
	if err != nil || !slices.Equal(got, append(slices.Clone(a), b...)) {
		t.Fatalf("rows end to end: %v, %v", got, err)
	}
	kept, err := keepPostings(bucket, both, []int64{base - 1, base + 1, base + 5, base + 6, base + 200}, nil)
	if err != nil || !slices.Equal(kept, []int64{base + 1, base + 200, base + 5, base + 200}) {
		t.Fatalf("keep: %v, %v", kept, err)
	}
	if _, err := decodePostings(bucket, []byte{0x80}, nil); err == nil {
		t.Fatal("a cut row decoded")
	}
	// Appending after a row's last makes what encoding the whole set does;
	// anything not after it is refused, for a merge.
	for _, c := range []struct {
		row, add []int64
		ok       bool
	}{
		{nil, []int64{base + 3, base + 9}, true},
		{[]int64{base + 1, base + 4}, []int64{base + 5, base + 900}, true},
		{[]int64{base + 1, base + 4}, []int64{base + 4}, false},
		{[]int64{base + 1, base + 4}, []int64{base + 2, base + 9}, false},
	} {
		var row []byte
		if c.row != nil {
			row = encodePostings(bucket, c.row)
		}
		got, ok := appendPostings(bucket, row, c.add)
		if ok != c.ok || ok && string(got) != string(encodePostings(bucket, append(slices.Clone(c.row), c.add...))) {
			t.Errorf("append %v to %v: %x, %v", c.add, c.row, got, ok)
		}
	}
}
