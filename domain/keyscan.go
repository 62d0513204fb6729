package domain

import (
	"bytes"
	"encoding/json"
)

// keyScanner walks the top-level keys of one JSON object, skipping values
// without decoding them. It gives up (ok false) on anything malformed.
type keyScanner struct {
	b       []byte
	i       int
	started bool
}

// next returns the next top-level key; done is true after the closing brace.
func (s *keyScanner) next() (key string, ok, done bool) {
	s.space()
	if !s.started {
		if s.i >= len(s.b) || s.b[s.i] != '{' {
			return "", false, false
		}
		s.started = true
		s.i++
		s.space()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			return "", true, true
		}
	} else {
		if s.i >= len(s.b) {
			return "", false, false
		}
		switch s.b[s.i] {
		case '}':
			return "", true, true
		case ',':
			s.i++
			s.space()
		default:
			return "", false, false
		}
	}
	start := s.i
	if !s.skipString() {
		return "", false, false
	}
	raw := s.b[start:s.i]
	if bytes.IndexByte(raw, '\\') < 0 {
		key = string(raw[1 : len(raw)-1])
	} else if json.Unmarshal(raw, &key) != nil {
		return "", false, false
	}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return "", false, false
	}
	s.i++
	if !s.skipValue() {
		return "", false, false
	}
	s.space()
	return key, true, false
}

func (s *keyScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// skipString moves past one string, which must start at s.i.
func (s *keyScanner) skipString() bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	for s.i++; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return true
		}
	}
	return false
}

// skipValue moves past one value of any kind, however deeply nested;
// whether a scalar is well formed is left for encoding/json to judge.
func (s *keyScanner) skipValue() bool {
	s.space()
	depth := 0
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if !s.skipString() {
				return false
			}
		case '{', '[':
			depth++
			s.i++
		case '}', ']':
			if depth == 0 {
				return true
			}
			depth--
			s.i++
		case ',':
			if depth == 0 {
				return true
			}
			s.i++
		default:
			s.i++
		}
		if depth == 0 && s.i < len(s.b) {
			s.space()
			if s.i < len(s.b) && (s.b[s.i] == ',' || s.b[s.i] == '}') {
				return true
			}
		}
	}
	return false
}
