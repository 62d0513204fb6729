package engine

import (
	"context"

	"github.com/ticketbus/ticketbus/domain"
)

// replyTicket finds the ticket of a reply, catching up with the log once
// on a miss: a gateway reports on a reply as soon as it has it.
func (e *Engine) replyTicket(ctx context.Context, replyID string) (string, error) {
	for i := 0; i < 2; i++ {
		e.st.mu.Lock()
		v, ok := e.st.pend.replies[replyID]
		e.st.mu.Unlock()
		if ok {
			return v.s, nil
		}
		t, ok, err := e.ix.replyTicket(ctx, replyID)
		if err != nil {
			return "", unavailable(err)
		}
		if ok {
			return t, nil
		}
		if i == 0 {
			if err := e.CatchUp(ctx); err != nil {
				return "", err
			}
		}
	}
	return "", domain.Errorf(domain.ENotFound, "reply %s not found", replyID)
}

// ReplyHandedOver records that a webhook took a reply (sent) or that none
// could, for good (failed, with the reason): the relay's report. A status
// not ahead of the reply's changes nothing.
func (e *Engine) ReplyHandedOver(ctx context.Context, replyID, status, reason string) error {
	spec, _ := domain.Spec(domain.CmdReplyHandedOver)
	_, err := e.run(ctx, domain.SystemRelay, spec, domain.ReplyStatus{ReplyID: replyID, Status: status, Reason: reason, HandedOver: true})
	return err
}

// ReplyRoute says where a ticket's replies go: the channel the customer
// wrote on and their latest phone number.
func (e *Engine) ReplyRoute(ctx context.Context, ticketID string) (channel, phone string, err error) {
	t, err := e.Ticket(ctx, ticketID)
	if err != nil {
		return "", "", err
	}
	return t.Channel, t.Phone, nil
}
