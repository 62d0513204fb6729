package domain

import (
	"strings"
	"unicode/utf8"
)

// DecideCreateUser adds a user with a role and the hash of a new token.
// The caller checks that the actor may manage users; this checks that the
// actor may give the role: only an owner makes owners and admins, so that
// no one can raise anyone, themselves included, above their own role.
func DecideCreateUser(name string, role Role, tokenHash string, c Context) (Decision, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Decision{}, Errorf(EInvalid, "name must be 1-100 printable characters")
	}
	if !role.Valid() {
		return Decision{}, Errorf(EInvalid, "role must be one of owner, admin, manager, support, analyst, campaign_coordinator, content_creator, integration; got %s", QuoteShort(string(role)))
	}
	if !c.Actor.MayGrant(role) {
		return Decision{}, Errorf(EForbidden, "role %s may not create a user with the role %s; only an owner may", c.Actor.Role, role)
	}
	id := c.NewID()
	b := &builder{c: c, at: eventTime(c.Now)}
	b.add(UserCreated, UserKey(id), "", "", &UserCreatedData{UserID: id, Name: name, Role: role, TokenHash: tokenHash})
	return Decision{Events: b.events, Outcome: OutcomeDone}, nil
}
