package main

import (
	"encoding/json"
	"fmt"
)

// checkNoStrayWords switches the page to a language made up for the
// test, whose every entry is the English one between two invisible marks,
// and reads the whole page as it stands: every text and every shown
// attribute must hold the marks, unless it is a number, a time, or the
// customers' and teammates' own words (profiles, messages, names), which
// the engine lists. Then it switches back to lang.
func checkNoStrayWords(w *webWalk, c *client, lang string) {
	t := w.t
	t.Helper()
	var data []string
	for _, st := range []string{"open", "snoozed", "closed"} {
		var page struct {
			Tickets []struct {
				ID        string `json:"id"`
				ProfileID string `json:"profile_id"`
				Preview   string `json:"preview"`
			} `json:"tickets"`
		}
		if code := c.do("GET", "/v1/tickets?limit=500&status="+st, nil, &page); code != 200 {
			t.Fatalf("list %s: %d", st, code)
		}
		for _, tk := range page.Tickets {
			var d struct {
				Messages []struct {
					Body string `json:"body"`
				} `json:"messages"`
			}
			if code := c.do("GET", "/v1/tickets/"+tk.ID, nil, &d); code != 200 {
				t.Fatalf("get ticket %s: %d", tk.ID, code)
			}
			data = append(data, tk.ProfileID, tk.Preview)
			for _, m := range d.Messages {
				data = append(data, m.Body)
			}
		}
	}
	var users []struct {
		Name string `json:"name"`
	}
	if code := c.do("GET", "/v1/users", nil, &users); code != 200 {
		t.Fatalf("list users: %d", code)
	}
	for _, u := range users {
		data = append(data, u.Name)
	}
	js, _ := json.Marshal(data)
	bad := webEval[[]string](w, "no stray words", fmt.Sprintf(`((data, back) => {
		const M = "\u2063";
		const marked = {};
		for (const [k, v] of Object.entries(TB.dicts.en)) marked[k] = M + v + M;
		TB.dicts.xx = marked;
		TB.setLang("xx");
		const known = new Set(data.map((s) => s.trim()));
		const ok = (s) => s.includes(M) || !/\p{L}/u.test(s) || known.has(s);
		const bad = [];
		const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let n; (n = walker.nextNode()); ) {
			const s = n.nodeValue.trim();
			if (s && !n.parentElement.closest("[hidden], time") && !ok(s)) bad.push(n.parentElement.tagName + ": " + s);
		}
		for (const e of document.querySelectorAll("[title], [aria-label], [placeholder], [alt], [data-icon]")) {
			if (e.closest("[hidden]") || e.tagName === "TIME") continue;
			for (const a of ["title", "aria-label", "placeholder", "alt", "data-icon"]) {
				const v = e.getAttribute(a);
				if (v !== null && !v.includes(M)) bad.push(e.tagName + " " + a + "=" + v);
			}
		}
		if (!document.title.includes(M)) bad.push("title: " + document.title);
		TB.setLang(back);
		delete TB.dicts.xx;
		return bad;
	})(%s, %q)`, js, lang))
	for _, b := range bad {
		t.Errorf("the page shows words of its own, outside the dictionaries: %q", b)
	}
}
