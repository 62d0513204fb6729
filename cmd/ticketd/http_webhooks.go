package main

import (
	"net/http"

	"github.com/ticketbus/ticketbus/domain"
)

// createWebhook adds a webhook and shows its secret, this once.
func (a *api) createWebhook(w http.ResponseWriter, r *http.Request, user domain.User) {
	var in domain.NewWebhook
	if err := decodeBody(r, &in); err != nil {
		writeError(w, err)
		return
	}
	hook, secret, err := a.m.Engine.CreateWebhook(r.Context(), user, in)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": hook.ID, "url": hook.URL, "events": hook.Events,
		"description": hook.Description, "created_at": hook.CreatedAt, "secret": secret})
}

func (a *api) listWebhooks(w http.ResponseWriter, r *http.Request, user domain.User) {
	if err := user.Role.Authorize(domain.PermManageWebhooks, "list webhooks"); err != nil {
		writeError(w, err)
		return
	}
	hooks, err := a.m.Engine.Webhooks(r.Context())
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, hooks)
}

func (a *api) removeWebhook(w http.ResponseWriter, r *http.Request, user domain.User) {
	if err := a.m.Engine.RemoveWebhook(r.Context(), user, r.PathValue("id")); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}
