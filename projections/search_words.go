package projections

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What search calls a word, for the texts indexed and the queries alike:
// a run of letters and digits, in lower case and without accents, so that
// "Réponse" and "reponse" are one word; everything else separates words.
// A query word matches every word that starts with it.

// maxTermBytes bounds an indexed word: a longer run (a URL, a pasted key)
// is indexed by its beginning, and a query word is cut the same way, so
// the two still meet.
const maxTermBytes = 64

// folds spells the accented Latin letters without their accents, after
// lower-casing. Combining marks (a decomposed "é") are dropped on their
// own, in words.
var folds = func() map[rune]string {
	m := map[rune]string{}
	for from, to := range map[string]string{
		"àáâãäåāăą": "a", "æ": "ae", "çćĉċč": "c", "ďđð": "d", "èéêëēĕėęě": "e",
		"ĝğġģ": "g", "ĥħ": "h", "ìíîïĩīĭįı": "i", "ĵ": "j", "ķ": "k", "ĺļľŀł": "l",
		"ñńņňŉ": "n", "òóôõöøōŏő": "o", "œ": "oe", "ŕŗř": "r", "śŝşšș": "s",
		"ß": "ss", "ţťŧț": "t", "þ": "th", "ùúûüũūŭůűų": "u", "ŵ": "w",
		"ýÿŷ": "y", "źżž": "z",
	} {
		for _, r := range from {
			m[r] = to
		}
	}
	return m
}()

// words calls add with each word of s, in order, repeats included.
func words(s string, add func(string)) {
	var buf [maxTermBytes + utf8.UTFMax]byte
	w := buf[:0]
	full := false
	end := func() {
		if len(w) > 0 {
			add(string(w))
		}
		w, full = buf[:0], false
	}
	for _, r := range s {
		if r < utf8.RuneSelf {
			// ASCII, most of every text: no table needed.
			switch {
			case 'a' <= r && r <= 'z' || '0' <= r && r <= '9':
			case 'A' <= r && r <= 'Z':
				r += 'a' - 'A'
			default:
				end()
				continue
			}
			if !full && len(w) < maxTermBytes {
				w = append(w, byte(r))
			} else {
				full = true
			}
			continue
		}
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			end()
			continue
		case full:
			continue
		}
		r = unicode.ToLower(r)
		if f, ok := folds[r]; ok {
			if len(w)+len(f) > maxTermBytes {
				full = true
				continue
			}
			w = append(w, f...)
			continue
		}
		if len(w)+utf8.RuneLen(r) > maxTermBytes {
			full = true
			continue
		}
		w = utf8.AppendRune(w, r)
	}
	end()
}

// distinctWords returns the words of the texts, each once.
func distinctWords(texts ...string) map[string]bool {
	set := map[string]bool{}
	for _, t := range texts {
		words(t, func(w string) { set[w] = true })
	}
	return set
}

// ticketTerms are the terms of a ticket's own fields: the words of its
// profile's id and phones. Its id is found through the tickets table's
// own index instead (search.go).
func ticketTerms(profile string, phones []string, add func(string)) {
	words(profile, add)
	for _, p := range phones {
		words(p, add)
	}
}

// maxQueryBytes and maxQueryWords bound a search, so that one query cannot
// ask for thousands of index walks.
const (
	maxQueryBytes = 500
	maxQueryWords = 8
)

// minPrefix is the shortest query word that matches as a prefix: a
// shorter one matches only the word it is, since "ma" or "de" would
// start thousands of words and read most of the index.
const minPrefix = 3

// queryWord is one word of a search. It matches the terms that start
// with prefix (or, when exact, the term equal to it), and, when id is set,
// the tickets whose id starts with id.
type queryWord struct {
	prefix string
	exact  bool
	id     string
}

// queryWords returns the words a ticket must all match. A piece of the
// query shaped like the start of a ticket id (8 hexadecimal digits or
// more, hyphens where an id has them) matches the ids that start with it,
// and, without a hyphen, words as well (an order number in a text). A word
// that starts another one of the query adds nothing and is left out.
func queryWords(q string) []queryWord {
	var ws []queryWord
	add := func(w queryWord) {
		if !slices.Contains(ws, w) {
			ws = append(ws, w)
		}
	}
	for _, piece := range strings.Fields(q) {
		lower := strings.ToLower(piece)
		switch {
		case ticketIDPrefix(lower) && !strings.Contains(lower, "-"):
			add(queryWord{prefix: lower, id: lower})
		case ticketIDPrefix(lower):
			add(queryWord{id: lower})
		default:
			words(piece, func(w string) { add(queryWord{prefix: w, exact: utf8.RuneCountInString(w) < minPrefix}) })
		}
	}
	out := ws[:0:0]
	for _, w := range ws {
		implied := slices.ContainsFunc(ws, func(o queryWord) bool {
			return w.id == "" && !w.exact && o.id == "" && o.prefix != w.prefix && strings.HasPrefix(o.prefix, w.prefix)
		})
		if !implied {
			out = append(out, w)
		}
	}
	return out
}

// ticketIDPrefix reports whether s is a canonical ticket id or its start,
// of at least 8 characters.
func ticketIDPrefix(s string) bool {
	if len(s) < 8 || len(s) > 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// prefixEnd is the smallest string above every string that starts with
// w: terms and ids are valid UTF-8, which never holds the byte 0xff.
func prefixEnd(w string) string { return w + "\xff" }
