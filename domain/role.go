package domain

// Role is what a user may do. The role table of the product contract is
// encoded once, in Can.
type Role string

// Roles, as the API spells them.
const (
	RoleOwner               Role = "owner"
	RoleAdmin               Role = "admin"
	RoleManager             Role = "manager"
	RoleSupport             Role = "support"
	RoleAnalyst             Role = "analyst"
	RoleCampaignCoordinator Role = "campaign_coordinator"
	RoleContentCreator      Role = "content_creator"
	RoleIntegration         Role = "integration"
)

// Roles lists every role, in the order of the contract's table.
var Roles = []Role{RoleOwner, RoleAdmin, RoleManager, RoleSupport,
	RoleAnalyst, RoleCampaignCoordinator, RoleContentCreator, RoleIntegration}

// Permission is one column of the role table.
type Permission string

// Permissions, one per column of the role table.
const (
	PermInboxRead      Permission = "inbox_read"
	PermTicketCommands Permission = "ticket_commands"
	PermInbound        Permission = "inbound"
	PermManageUsers    Permission = "manage_users"
	// PermManageWebhooks: create, list and remove webhooks, and retry
	// their dead letters.
	PermManageWebhooks Permission = "manage_webhooks"
	// PermReplyStatus: report a reply's delivery (a gateway).
	PermReplyStatus Permission = "reply_status"
	// PermSystem is held by no role: the engine's own commands.
	PermSystem Permission = "system"
)

var rolePerms = map[Role]map[Permission]bool{
	RoleOwner: {PermInboxRead: true, PermTicketCommands: true, PermInbound: true, PermManageUsers: true,
		PermManageWebhooks: true, PermReplyStatus: true},
	RoleAdmin: {PermInboxRead: true, PermTicketCommands: true, PermInbound: true, PermManageUsers: true,
		PermManageWebhooks: true, PermReplyStatus: true},
	RoleManager: {PermInboxRead: true, PermTicketCommands: true, PermInbound: true},
	RoleSupport: {PermInboxRead: true, PermTicketCommands: true, PermInbound: true},
	RoleAnalyst: {}, RoleCampaignCoordinator: {}, RoleContentCreator: {},
	RoleIntegration: {PermInbound: true, PermReplyStatus: true},
}

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	_, ok := rolePerms[r]
	return ok
}

// Can reports whether the role holds the permission.
func (r Role) Can(p Permission) bool {
	return rolePerms[r][p]
}

// Authorize returns a forbidden error when the role lacks the permission.
func (r Role) Authorize(p Permission, what string) error {
	if r.Can(p) {
		return nil
	}
	return Errorf(EForbidden, "role %s may not %s", r, what)
}

// MayGrant reports whether the actor may give a new user the role: owners
// and admins are made only by an owner (or by the engine, for the first
// owner); the other roles by whoever may manage users.
func (a Actor) MayGrant(r Role) bool {
	if a.System == SystemBootstrap.System {
		return true
	}
	if r == RoleOwner || r == RoleAdmin {
		return a.Role == RoleOwner
	}
	return a.Role.Can(PermManageUsers)
}
