package main

import (
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The dictionaries of the inbox page, one per language: every word,
// label and symbol the page shows is one of their entries.
var webDicts = map[string]string{"en": "web/i18n-en.js", "fr": "web/i18n-fr.js"}

var dictLine = regexp.MustCompile(`^\s*("(?:[^"\\]|\\.)*"): ("(?:[^"\\]|\\.)*"),$`)
var placeholder = regexp.MustCompile(`\{\w+\}`)

// readDict reads a dictionary file: one `"key": "text",` a line between
// `TB.dicts.<lang> = {` and `};`.
func readDict(t *testing.T, lang, file string) (map[string]string, []string) {
	t.Helper()
	b, err := fs.ReadFile(webFiles, file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	start := slices.Index(lines, "  TB.dicts."+lang+" = {")
	if start < 0 {
		t.Fatalf("%s: no `TB.dicts.%s = {` line", file, lang)
	}
	d := map[string]string{}
	var order []string
	for i := start + 1; i < len(lines); i++ {
		if lines[i] == "  };" {
			return d, order
		}
		m := dictLine.FindStringSubmatch(lines[i])
		if m == nil {
			t.Errorf("%s:%d: not a `\"key\": \"text\",` line: %q", file, i+1, lines[i])
			continue
		}
		k, err1 := strconv.Unquote(m[1])
		v, err2 := strconv.Unquote(m[2])
		if err1 != nil || err2 != nil {
			t.Errorf("%s:%d: bad quoting", file, i+1)
			continue
		}
		if _, dup := d[k]; dup {
			t.Errorf("%s:%d: key %q twice", file, i+1, k)
		}
		if v == "" {
			t.Errorf("%s:%d: key %q has no text", file, i+1, k)
		}
		d[k] = v
		order = append(order, k)
	}
	t.Fatalf("%s: the dictionary never ends (`  };`)", file)
	return nil, nil
}

// TestWebDictionaries checks that English and French hold exactly the
// same keys, each with the same {placeholders}.
func TestWebDictionaries(t *testing.T) {
	en, _ := readDict(t, "en", webDicts["en"])
	fr, _ := readDict(t, "fr", webDicts["fr"])
	for k, v := range en {
		f, ok := fr[k]
		if !ok {
			t.Errorf("key %q is in English, not in French", k)
			continue
		}
		pe, pf := placeholder.FindAllString(v, -1), placeholder.FindAllString(f, -1)
		slices.Sort(pe)
		slices.Sort(pf)
		if !slices.Equal(pe, pf) {
			t.Errorf("key %q: English fills %v, French %v", k, pe, pf)
		}
	}
	for k := range fr {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is in French, not in English", k)
		}
	}
}
