package main

import (
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

var (
	htmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)
	htmlTag     = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z:-]+(?:="[^"]*")?)*)\s*/?>`)
	htmlAttr    = regexp.MustCompile(`([a-zA-Z:-]+)(?:="([^"]*)")?`)
	htmlText    = regexp.MustCompile(`>([^<]*)<`)
)

// Attributes that a browser shows or reads aloud: their words come from
// data-i18n-attr, never from the page's source.
var shownAttrs = map[string]bool{
	"title": true, "alt": true, "placeholder": true, "label": true, "aria-label": true,
	"aria-description": true, "aria-placeholder": true, "aria-roledescription": true, "aria-valuetext": true,
}

// TestWebPageHoldsNoWords checks index.html: every text node is blank
// (elements get their words from data-i18n, or from the scripts), no
// shown attribute is written out, and every key it names exists.
func TestWebPageHoldsNoWords(t *testing.T) {
	en, _ := readDict(t, "en", webDicts["en"])
	b, err := fs.ReadFile(webFiles, "web/index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := htmlComment.ReplaceAllString(string(b), "")
	lineOf := func(i int) int { return strings.Count(page[:i], "\n") + 1 }
	for _, m := range htmlText.FindAllStringSubmatchIndex(page, -1) {
		if text := page[m[2]:m[3]]; strings.TrimSpace(text) != "" {
			t.Errorf("index.html:%d: text %q in the page; give the element a data-i18n key", lineOf(m[2]), strings.TrimSpace(text))
		}
	}
	scripts := map[string]bool{}
	for _, m := range htmlTag.FindAllStringSubmatchIndex(page, -1) {
		tag := page[m[2]:m[3]]
		for _, a := range htmlAttr.FindAllStringSubmatch(page[m[4]:m[5]], -1) {
			name, val := strings.ToLower(a[1]), a[2]
			switch {
			case shownAttrs[name]:
				t.Errorf("index.html:%d: <%s %s=%q>: use data-i18n-attr", lineOf(m[0]), tag, name, val)
			case name == "value" && tag == "input" && strings.Contains(page[m[4]:m[5]], `type="submit"`):
				t.Errorf("index.html:%d: a submit input's value is shown: use a <button data-i18n>", lineOf(m[0]))
			case name == "data-i18n":
				if _, ok := en[val]; !ok {
					t.Errorf("index.html:%d: data-i18n %q is not in the dictionaries", lineOf(m[0]), val)
				}
			case name == "data-i18n-attr":
				for _, pair := range strings.Split(val, ";") {
					attr, key, ok := strings.Cut(pair, ":")
					if _, known := en[key]; !ok || !known || !shownAttrs[attr] {
						t.Errorf("index.html:%d: data-i18n-attr %q: want attribute:key with a known key", lineOf(m[0]), pair)
					}
				}
			case name == "src" && tag == "script":
				scripts[strings.TrimPrefix(val, "/web/")] = true
			}
		}
	}
	// Every script the page is made of is loaded, so every one is checked
	// by TestWebScriptsHoldNoWords and served by web.go.
	files, _ := fs.Glob(webFiles, "web/*.js")
	for _, f := range files {
		if !scripts[path.Base(f)] {
			t.Errorf("index.html does not load %s", path.Base(f))
		}
	}
}

// jsLiteral is a string literal of a script: its text and where it
// starts, with ${...} parts of template literals left out.
type jsLiteral struct {
	at   int
	end  int
	text string
}

// scanJS splits a script into its code, with comments blanked out, and
// its string literals. Regular expression literals are left as code:
// the page's hold no quote.
func scanJS(src string) (string, []jsLiteral) {
	code := []byte(src)
	var lits []jsLiteral
	for i := 0; i < len(code); i++ {
		switch c := code[i]; {
		case c == '/' && i+1 < len(code) && code[i+1] == '/':
			for ; i < len(code) && code[i] != '\n'; i++ {
				code[i] = ' '
			}
		case c == '/' && i+1 < len(code) && code[i+1] == '*':
			j := strings.Index(src[i+2:], "*/") + i + 4
			for ; i < j; i++ {
				if code[i] != '\n' {
					code[i] = ' '
				}
			}
			i--
		case c == '"' || c == '\'' || c == '`':
			start := i
			var text strings.Builder
			for i++; i < len(code) && code[i] != c; i++ {
				switch {
				case code[i] == '\\':
					i++
					text.WriteByte(code[i])
				case c == '`' && code[i] == '$' && code[i+1] == '{':
					for depth := 0; ; i++ {
						if code[i] == '{' {
							depth++
						} else if code[i] == '}' {
							if depth--; depth == 0 {
								break
							}
						}
					}
				default:
					text.WriteByte(code[i])
				}
			}
			lits = append(lits, jsLiteral{at: start, end: i + 1, text: text.String()})
		}
	}
	return string(code), lits
}

// callArgs finds the calls of fn in code (a name, called alone or as
// TB.name, or .name for any method of that name) and gives the offsets of
// each call's top-level arguments.
func callArgs(code, fn string) [][][2]int {
	var calls [][][2]int
	re := regexp.MustCompile(`(^|[^\w.$])(TB\.)?` + regexp.QuoteMeta(fn) + `\(`)
	if strings.HasPrefix(fn, ".") {
		re = regexp.MustCompile(regexp.QuoteMeta(fn) + `\(`)
	}
	for _, m := range re.FindAllStringIndex(code, -1) {
		var args [][2]int
		depth, start := 0, m[1]
		var quote byte
		for i := m[1]; i < len(code); i++ {
			c := code[i]
			if quote != 0 {
				if c == '\\' {
					i++
				} else if c == quote {
					quote = 0
				}
				continue
			}
			switch c {
			case '"', '\'', '`':
				quote = c
			case '(', '[', '{':
				depth++
			case ')', ']', '}':
				if depth == 0 {
					args = append(args, [2]int{start, i})
					calls = append(calls, args)
					i = len(code)
					continue
				}
				depth--
			case ',':
				if depth == 0 {
					args = append(args, [2]int{start, i})
					start = i + 1
				}
			}
		}
	}
	return calls
}

// TestWebScriptsHoldNoWords checks the page's scripts, the dictionaries
// apart: no character outside ASCII in their code, no literal text
// handed to the page (element text, shown attributes, notices), and every
// key they look up exists.
func TestWebScriptsHoldNoWords(t *testing.T) {
	en, _ := readDict(t, "en", webDicts["en"])
	files, err := fs.Glob(webFiles, "web/*.js")
	if err != nil {
		t.Fatal(err)
	}
	shownProps := regexp.MustCompile(`\.(textContent|innerText|title|placeholder|alt|label|value|ariaLabel)\s*[+]?=\s*$|\.dataset\.icon\s*=\s*$`)
	for _, f := range files {
		if slices.Contains([]string{webDicts["en"], webDicts["fr"]}, f) {
			continue
		}
		b, err := fs.ReadFile(webFiles, f)
		if err != nil {
			t.Fatal(err)
		}
		name := path.Base(f)
		code, lits := scanJS(string(b))
		lineOf := func(i int) int { return strings.Count(code[:i], "\n") + 1 }
		for i, r := range code {
			if r > unicode.MaxASCII {
				t.Errorf("%s:%d: %q in the code: words and symbols belong in the dictionaries", name, lineOf(i), r)
			}
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"} {
			if i := strings.Index(code, bad); i >= 0 {
				t.Errorf("%s:%d: %s", name, lineOf(i), bad)
			}
		}
		shown := func(lit jsLiteral) bool { return strings.TrimSpace(lit.text) != "" }
		literalAt := func(span [2]int) *jsLiteral {
			arg := strings.TrimSpace(code[span[0]:span[1]])
			for i := range lits {
				l := &lits[i]
				if l.at >= span[0] && l.end <= span[1] && strings.HasPrefix(arg, code[l.at:l.end]) {
					return l
				}
			}
			return nil
		}
		// Literals assigned to what the page shows.
		for _, l := range lits {
			if shown(l) && shownProps.MatchString(code[max(0, l.at-40):l.at]) {
				t.Errorf("%s:%d: literal %q shown on the page", name, lineOf(l.at), l.text)
			}
		}
		// Literals handed to calls that put them on the page: el's text
		// (its third argument), and every argument of the others.
		for fn, argIdx := range map[string]int{
			"el": 2, ".append": -1, ".prepend": -1, ".replaceChildren": -1, ".before": -1, ".after": -1,
			".replaceWith": -1, "createTextNode": -1, "notice": 0, "showSignin": 0, "alert": -1, "confirm": -1, "prompt": -1,
		} {
			for _, args := range callArgs(code, fn) {
				for i, span := range args {
					if argIdx >= 0 && i != argIdx {
						continue
					}
					if l := literalAt(span); l != nil && shown(*l) {
						t.Errorf("%s:%d: %s(…) shows the literal %q", name, lineOf(l.at), fn, l.text)
					}
				}
			}
		}
		for _, args := range callArgs(code, ".setAttribute") {
			if len(args) == 2 {
				if a := literalAt(args[0]); a != nil && shownAttrs[a.text] {
					if l := literalAt(args[1]); l != nil && shown(*l) {
						t.Errorf("%s:%d: %s set to the literal %q", name, lineOf(l.at), a.text, l.text)
					}
				}
			}
		}
		// Keys looked up: a whole key exists; the start of a built one
		// ("state." + status) starts some key.
		for _, fn := range []string{"t", "tn", "has"} {
			for _, args := range callArgs(code, fn) {
				l := literalAt(args[0])
				if l == nil {
					continue
				}
				whole := strings.TrimSpace(code[args[0][0]:args[0][1]]) == code[l.at:l.end]
				found := false
				for k := range en {
					if k == l.text || (!whole && strings.HasPrefix(k, l.text)) ||
						fn == "tn" && strings.HasPrefix(k, l.text+".") {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("%s:%d: %s(%q): no such key in the dictionaries", name, lineOf(l.at), fn, l.text)
				}
			}
		}
	}
}
