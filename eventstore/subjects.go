package eventstore

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/ticketbus/ticketbus/domain"
)

// Subject layout of the event stream: one subject per aggregate, so that
// JetStream's per-subject expected-sequence check is the optimistic lock of
// exactly one consistency boundary.
//
//	tb.ev.p.<base64url(profile id)>   a profile and all its tickets
//	tb.ev.ph.<digits>                 a phone number
//	tb.ev.u.<user id>                 a user
//	tb.ev.w.<webhook id>              a webhook
//
// Profile ids may hold '.', which NATS reads as a token separator, hence
// the encoding.
const (
	subjectProfiles = "tb.ev.p."
	subjectPhones   = "tb.ev.ph."
	subjectUsers    = "tb.ev.u."
	subjectWebhooks = "tb.ev.w."
)

// ProfileSubjects are the subjects of every profile, where every ticket
// event is: what webhooks may receive.
const ProfileSubjects = subjectProfiles + ">"

var subjectEncoding = base64.RawURLEncoding

// ProfileToken returns the subject token for a profile id.
func ProfileToken(id string) string { return subjectEncoding.EncodeToString([]byte(id)) }

// AggregateSubject returns the log subject of an aggregate.
func AggregateSubject(k domain.AggregateKey) string {
	switch k.Kind {
	case domain.KindProfile:
		return subjectProfiles + ProfileToken(k.ID)
	case domain.KindPhone:
		return subjectPhones + strings.TrimPrefix(k.ID, "+")
	case domain.KindUser:
		return subjectUsers + k.ID
	case domain.KindWebhook:
		return subjectWebhooks + k.ID
	}
	panic(fmt.Sprintf("eventstore: unknown aggregate kind %q", k.Kind))
}

// AggregateOfSubject returns the aggregate a log subject belongs to.
func AggregateOfSubject(subject string) (kind, id string, ok bool) {
	switch {
	case strings.HasPrefix(subject, subjectProfiles):
		id, err := subjectEncoding.DecodeString(subject[len(subjectProfiles):])
		return domain.KindProfile, string(id), err == nil
	case strings.HasPrefix(subject, subjectPhones):
		return domain.KindPhone, "+" + subject[len(subjectPhones):], true
	case strings.HasPrefix(subject, subjectUsers):
		return domain.KindUser, subject[len(subjectUsers):], true
	case strings.HasPrefix(subject, subjectWebhooks):
		return domain.KindWebhook, subject[len(subjectWebhooks):], true
	}
	return "", "", false
}
