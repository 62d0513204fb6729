package domain_test

import (
	"testing"

	"github.com/ticketbus/ticketbus/domain"
)

// TestReplyStatusMovesForward: a reply is pending once written; reports
// move it forward only (pending, sent, then delivered or failed), a report
// that is not ahead changes nothing, and an unknown reply is not_found.
func TestReplyStatusMovesForward(t *testing.T) {
	t.Parallel()
	reply := uid(90)
	sent := func() domain.Event {
		return pev(domain.ReplySent, tk1, later(0), &domain.ReplySentData{MessageID: reply, Body: body})
	}
	changed := func(status, reason string) domain.Event {
		return pev(domain.ReplyStatusChanged, tk1, t0, &domain.ReplyStatusChangedData{ReplyID: reply, Status: status, Reason: reason})
	}
	gateway := by(domain.Actor{UserID: uid(77), Role: domain.RoleIntegration})
	relay := by(domain.SystemRelay)
	report := func(status, reason string) domain.ReplyStatus {
		return domain.ReplyStatus{ReplyID: reply, Status: status, Reason: reason}
	}
	handedOver := func(status, reason string) domain.ReplyStatus {
		c := report(status, reason)
		c.HandedOver = true
		return c
	}
	for _, c := range []struct {
		name  string
		given []domain.Event
		cmd   domain.ReplyStatus
		as    opt
		want  []domain.Event // nil: no event
		code  string
	}{
		{"pending to sent", nil, handedOver(domain.ReplySentOut, ""), relay, []domain.Event{changed("sent", "")}, ""},
		{"pending to delivered", nil, report("delivered", ""), gateway, []domain.Event{changed("delivered", "")}, ""},
		{"sent to failed", []domain.Event{changed("sent", "")}, report("failed", "unknown number"), gateway,
			[]domain.Event{changed("failed", "unknown number")}, ""},
		{"sent after delivered", []domain.Event{changed("delivered", "")}, handedOver(domain.ReplySentOut, ""), relay, nil, ""},
		{"delivered twice", []domain.Event{changed("delivered", "")}, report("delivered", ""), gateway, nil, ""},
		{"failed after delivered", []domain.Event{changed("delivered", "")}, report("failed", "late bounce"), gateway, nil, ""},
		{"unknown reply", nil, domain.ReplyStatus{ReplyID: uid(91), Status: "delivered"}, gateway, nil, domain.ENotFound},
		{"gateway reports sent", nil, report("sent", ""), gateway, nil, domain.EInvalid},
		{"failed without reason", nil, report("failed", ""), gateway, nil, domain.EInvalid},
		{"reason without failure", nil, report("delivered", "ok"), gateway, nil, domain.EInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := given(append([]domain.Event{opened(tk1, t0), received(tk1, t0), sent()}, c.given...)...)
			r := when(t, w, c.cmd, c.as)
			switch {
			case c.code != "":
				r.fails(c.code)
			case c.want == nil:
				r.then()
			default:
				r.then(c.want...)
			}
		})
	}
}
