package main

import (
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"
)

// unreadDot is the blue dot of the inbox, as the web page shows it.
const unreadDot = "●"

// previewRunes bounds the PREVIEW column so that a table row stays on one
// line of an ordinary terminal.
const previewRunes = 40

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// replyStatus shows a reply's delivery status after its author, with the
// reason of a failure: " [delivered]", " [failed: number unreachable]".
// Inbound messages have none.
func replyStatus(status, reason *string) string {
	if status == nil || *status == "" {
		return ""
	}
	if reason != nil && *reason != "" {
		return " [" + clean(*status) + ": " + clean(*reason) + "]"
	}
	return " [" + clean(*status) + "]"
}

// fmtTime shows an engine time as RFC 3339 in UTC to the second, which
// is what a person reads in a table; an unparsable value is shown as sent
// rather than hidden.
func fmtTime(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return clean(*s)
	}
	return t.UTC().Format(time.RFC3339)
}

// fmtTimeNano keeps the nanoseconds that events carry (R8): an auditor
// comparing event times needs them, and they order events of one second.
func fmtTimeNano(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return orDash(clean(s))
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// clean makes text from customers safe for a terminal and a table: control
// characters (an escape sequence could rewrite the screen) become U+FFFD,
// and tabs and line breaks become spaces so that cells stay aligned.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case unicode.IsControl(r):
			return utf8.RuneError
		}
		return r
	}, s)
}

// cleanLines is clean for multi-line text: line breaks survive, so a
// thread shows a message the way it was written.
func cleanLines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = clean(l)
	}
	return strings.Join(lines, "\n")
}

// truncate shortens to n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// shellQuote quotes a value for the "next:" hint only when a shell would
// need it, so the usual base64 cursor is printed bare.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_./:=+@,%", r)))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
