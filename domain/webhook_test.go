package domain_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ticketbus/ticketbus/domain"
)

func TestNewWebhookValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		w    domain.NewWebhook
		ok   bool
	}{
		{"https, one type", domain.NewWebhook{URL: "https://gw.example/hook", Events: []string{"ReplySent"}}, true},
		{"http, every type", domain.NewWebhook{URL: "http://127.0.0.1:9000/x", Events: []string{"*"}, Description: "gateway"}, true},
		{"ftp", domain.NewWebhook{URL: "ftp://gw.example/", Events: []string{"*"}}, false},
		{"javascript", domain.NewWebhook{URL: "javascript:alert(1)", Events: []string{"*"}}, false},
		{"no host", domain.NewWebhook{URL: "https:///x", Events: []string{"*"}}, false},
		{"credentials", domain.NewWebhook{URL: "https://u:p@gw.example/", Events: []string{"*"}}, false},
		{"too long", domain.NewWebhook{URL: "https://gw.example/" + strings.Repeat("a", 3000), Events: []string{"*"}}, false},
		{"no events", domain.NewWebhook{URL: "https://gw.example/"}, false},
		{"unknown type", domain.NewWebhook{URL: "https://gw.example/", Events: []string{"TicketExploded"}}, false},
		{"users are not delivered", domain.NewWebhook{URL: "https://gw.example/", Events: []string{"UserCreated"}}, false},
		{"star and a type", domain.NewWebhook{URL: "https://gw.example/", Events: []string{"*", "ReplySent"}}, false},
		{"a type twice", domain.NewWebhook{URL: "https://gw.example/", Events: []string{"ReplySent", "ReplySent"}}, false},
		{"control in description", domain.NewWebhook{URL: "https://gw.example/", Events: []string{"*"}, Description: "a\x00b"}, false},
	} {
		if err := c.w.Validate(); (err == nil) != c.ok || err != nil && domain.ErrorCode(err) != domain.EInvalid {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
	}
	w := domain.Webhook{Events: []string{"ReplySent"}}
	if !w.Wants(domain.ReplySent) || w.Wants(domain.MessageReceived) || !(domain.Webhook{Events: []string{"*"}}).Wants(domain.TicketClosed) {
		t.Error("Wants")
	}
}

// FuzzNewWebhook: whatever body POST /v1/webhooks gets, decoding and
// validation never panic, refusals are short invalid_argument errors, and
// what is accepted is an http(s) URL with a host and known event types.
func FuzzNewWebhook(f *testing.F) {
	f.Add([]byte(`{"url":"https://gw.example/hook","events":["ReplySent"],"description":"sms"}`))
	f.Add([]byte(`{"url":"http://127.0.0.1:9/","events":["*"]}`))
	f.Add([]byte(`{"url":"javascript:alert(1)","events":["*"]}`))
	f.Add([]byte(`{"url":"https://x","events":["*","*"],"secret":"mine"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var w domain.NewWebhook
		err := domain.DecodeBody(body, &w)
		if err == nil {
			err = w.Validate()
		}
		if err != nil {
			if domain.ErrorCode(err) != domain.EInvalid || len(domain.ErrorMessage(err)) > 1000 {
				t.Fatalf("%q: %v", body, err)
			}
			return
		}
		u, perr := url.Parse(w.URL)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(w.Events) == 0 {
			t.Fatalf("accepted %+v", w)
		}
		for _, e := range w.Events {
			if e != domain.WebhookAll && !slices.Contains(domain.WebhookEvents, e) {
				t.Fatalf("accepted event type %q", e)
			}
		}
	})
}
