package domain

import "fmt"

// The command registry: each command's name, permission, decoder, targets
// and decide function are registered once, here. Decoding, permission
// checks, the engine's dispatch and the test harnesses all derive from it,
// so that adding a command means its struct, its decide function, its
// events and one line below.

// Targets names the aggregates a command is decided against; the engine
// loads them and hands them to Decide as a State.
type Targets struct {
	// TicketID: the profile holding the ticket.
	TicketID string
	// ProfileID: that profile.
	ProfileID string
	// Phone: that phone; with Linked, also every profile that ever wrote
	// from it.
	Phone  string
	Linked bool
	// UserID: a user the decision reads (an assignee).
	UserID string
	// MessageID: a gateway's message id of ProfileID whose first delivery
	// the decision needs (R9), as Context.Delivered.
	MessageID string
	// ReplyID: the profile holding the ticket of that reply.
	ReplyID string
}

// State holds what a command's Targets named, as the engine loaded it.
type State struct {
	Profile *Profile
	Phone   *Phone
	Linked  []*Profile
	User    *User
}

// CommandSpec is everything known of one command.
type CommandSpec struct {
	Name       string
	Permission Permission
	// Internal commands are the engine's own (the timer's wake-up): no
	// transport decodes them and no role may send them.
	Internal bool
	decode   func(body []byte) (Command, error)
	// Decide decides the command against the state its Targets named.
	Decide func(s State, cmd Command, c Context) (Decision, error)
}

// register makes the spec of a command of type C.
func register[C Command](name string, perm Permission, decode func([]byte) (Command, error),
	decide func(State, C, Context) (Decision, error)) CommandSpec {
	return CommandSpec{Name: name, Permission: perm, decode: decode,
		Decide: func(s State, cmd Command, c Context) (Decision, error) {
			typed, ok := cmd.(C)
			if !ok {
				return Decision{}, fmt.Errorf("command %s: got %T", name, cmd)
			}
			return decide(s, typed, c)
		}}
}

var registry = []CommandSpec{
	register(CmdInbound, PermInbound, decodeInto[Inbound], func(s State, c Inbound, x Context) (Decision, error) {
		return DecideInbound(s.Profile, s.Phone, c, x)
	}),
	register(CmdReply, PermTicketCommands, decodeInto[Reply], func(s State, c Reply, x Context) (Decision, error) {
		return DecideReply(s.Profile, c, x)
	}),
	register(CmdAssign, PermTicketCommands, decodeAssign, func(s State, c Assign, x Context) (Decision, error) {
		return DecideAssign(s.Profile, c, s.User, x)
	}),
	register(CmdSnooze, PermTicketCommands, decodeInto[Snooze], func(s State, c Snooze, x Context) (Decision, error) {
		return DecideSnooze(s.Profile, c, x)
	}),
	register(CmdUnsnooze, PermTicketCommands, decodeInto[Unsnooze], func(s State, c Unsnooze, x Context) (Decision, error) {
		return DecideUnsnooze(s.Profile, c, x)
	}),
	register(CmdMarkUnread, PermTicketCommands, decodeInto[MarkUnread], func(s State, c MarkUnread, x Context) (Decision, error) {
		return DecideMarkUnread(s.Profile, c, x)
	}),
	register(CmdMarkRead, PermTicketCommands, decodeInto[MarkRead], func(s State, c MarkRead, x Context) (Decision, error) {
		return DecideMarkRead(s.Profile, c, x)
	}),
	register(CmdClose, PermTicketCommands, decodeInto[Close], func(s State, c Close, x Context) (Decision, error) {
		return DecideClose(s.Profile, c, x)
	}),
	register(CmdNote, PermTicketCommands, decodeInto[Note], func(s State, c Note, x Context) (Decision, error) {
		return DecideNote(s.Profile, c, x)
	}),
	register(CmdBlock, PermTicketCommands, decodeInto[Block], func(s State, c Block, x Context) (Decision, error) {
		return DecideBlock(c, s.Profile, s.Phone, s.Linked, x)
	}),
	register(CmdUnblock, PermTicketCommands, decodeInto[Unblock], func(s State, c Unblock, x Context) (Decision, error) {
		return DecideUnblock(c, s.Profile, s.Phone, s.Linked, x)
	}),
	register(CmdReplyStatus, PermReplyStatus, decodeInto[ReplyStatus], func(s State, c ReplyStatus, x Context) (Decision, error) {
		return DecideReplyStatus(s.Profile, c, x)
	}),
	internal(register(CmdWake, PermSystem, nil, func(s State, c Wake, x Context) (Decision, error) {
		return DecideWake(s.Profile, c.TicketID, x)
	})),
	internal(register(CmdReplyHandedOver, PermSystem, nil, func(s State, c ReplyStatus, x Context) (Decision, error) {
		return DecideReplyStatus(s.Profile, c, x)
	})),
}

func internal(s CommandSpec) CommandSpec {
	s.Internal = true
	return s
}

var specs = func() map[string]*CommandSpec {
	m := make(map[string]*CommandSpec, len(registry))
	for i := range registry {
		m[registry[i].Name] = &registry[i]
	}
	return m
}()

// CommandNames lists every command of the API, in the registry's order.
var CommandNames = func() []string {
	var names []string
	for _, s := range registry {
		if !s.Internal {
			names = append(names, s.Name)
		}
	}
	return names
}()

// Spec returns a command's spec, internal ones included.
func Spec(name string) (*CommandSpec, bool) {
	s, ok := specs[name]
	return s, ok
}

// CommandPermission returns the permission an API command needs, so that
// a caller's role is checked before its body is read; false for a name
// that is no API command.
func CommandPermission(name string) (Permission, bool) {
	s, ok := specs[name]
	if !ok || s.Internal {
		return "", false
	}
	return s.Permission, true
}
