package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/engine"
)

// httpStatus maps every error code to its HTTP status, in one place, as
// the contract's table gives them.
var httpStatus = map[string]int{
	domain.EInvalid:         http.StatusBadRequest,
	domain.EUnauthenticated: http.StatusUnauthorized,
	domain.EForbidden:       http.StatusForbidden,
	domain.ENotFound:        http.StatusNotFound,
	domain.ETicketClosed:    http.StatusConflict,
	domain.EConflict:        http.StatusConflict,
	domain.EUnavailable:     http.StatusServiceUnavailable,
	domain.EInternal:        http.StatusInternalServerError,
}

// maxRequestBytes bounds a request body; a bigger one is refused unread.
const maxRequestBytes = 1 << 20

// api serves the HTTP API: commands, queries, users, views, test clock.
type api struct {
	m        *Main
	requests *prometheus.CounterVec
}

func newAPI(m *Main) *api {
	a := &api{m: m, requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ticketbus_http_requests_total", Help: "HTTP requests by route and status.",
	}, []string{"route", "status"})}
	m.Registry.MustRegister(a.requests)
	return a
}

func (a *api) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /v1/commands/{name}", a.authed(a.command))
	mux.HandleFunc("GET /v1/tickets", a.inbox(a.tickets))
	mux.HandleFunc("GET /v1/tickets/counts", a.inbox(a.counts))
	mux.HandleFunc("GET /v1/tickets/{id}", a.inbox(a.ticket))
	mux.HandleFunc("GET /v1/tickets/{id}/events", a.inbox(a.ticketEvents))
	mux.HandleFunc("GET /v1/profiles/{id}", a.inbox(a.profile))
	mux.HandleFunc("GET /v1/erasure", a.authed(a.erasure))
	mux.HandleFunc("GET /v1/me", a.authed(a.me))
	mux.HandleFunc("GET /v1/users", a.authed(a.listUsers))
	mux.HandleFunc("POST /v1/users", a.authed(a.createUser))
	mux.HandleFunc("POST /v1/webhooks", a.authed(a.createWebhook))
	mux.HandleFunc("GET /v1/webhooks", a.authed(a.listWebhooks))
	mux.HandleFunc("DELETE /v1/webhooks/{id}", a.authed(a.removeWebhook))
	mux.HandleFunc("GET /v1/webhooks/{id}/failures", a.authed(a.listFailures))
	mux.HandleFunc("POST /v1/webhooks/{id}/failures/{event_id}/retry", a.authed(a.retryFailure))
	mux.HandleFunc("GET /v1/log", a.authed(a.rawLog))
	mux.HandleFunc("POST /v1/views/rebuild", a.authed(a.rebuildViews))
	mux.HandleFunc("POST /v1/views/verify", a.authed(a.verifyViews))
	mux.HandleFunc("POST /v1/test-clock/advance", a.authed(a.advanceClock))
	mux.Handle("GET /{$}", webHandler())
	mux.Handle("GET /web/", webHandler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, domain.Errorf(domain.ENotFound, "no route %s %s", r.Method, r.URL.Path))
	})
	return a.observe(mux)
}

// observe counts requests by the route pattern that served them, not the
// raw path, so ids do not explode the label set.
func (a *api) observe(next *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header(), r.URL.Path)
		sw := &statusWriter{ResponseWriter: w, status: 200}
		r.Body = http.MaxBytesReader(sw, r.Body, maxRequestBytes)
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "unmatched"
		}
		a.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
	})
}

// pagePolicy is the web inbox's Content-Security-Policy: the page loads
// its own script and stylesheet and calls its own API, nothing inline and
// no other origin, and no one may frame it.
const pagePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// setSecurityHeaders sets what every answer carries. API answers hold
// customers' text, which R6 erases: no browser or proxy may keep a copy.
func setSecurityHeaders(h http.Header, path string) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", pagePolicy)
	if strings.HasPrefix(path, "/v1/") {
		h.Set("Cache-Control", "no-store")
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush lets streamed responses through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type authedHandler func(w http.ResponseWriter, r *http.Request, user domain.User)

// authed resolves the caller from the token; the engine, not the caller,
// says who they are (R10).
func (a *api) authed(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, err := a.m.Engine.AuthenticateHeader(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			if r.ContentLength != 0 {
				// Answer now and close, rather than read (or wait for) a
				// body nobody will use to keep the connection.
				w.Header().Set("Connection", "close")
			}
			writeError(w, err)
			return
		}
		h(w, r, user)
	}
}

// inbox is authed plus the inbox-read permission and min_position.
func (a *api) inbox(h authedHandler) http.HandlerFunc {
	return a.authed(func(w http.ResponseWriter, r *http.Request, user domain.User) {
		if err := user.Role.Authorize(domain.PermInboxRead, "read the inbox"); err != nil {
			writeError(w, err)
			return
		}
		if err := a.waitMinPosition(r); err != nil {
			writeError(w, err)
			return
		}
		h(w, r, user)
	})
}

// waitMinPosition gives read-your-writes: it waits up to 5 s for the views
// to apply the position the caller saw in a command's reply.
func (a *api) waitMinPosition(r *http.Request) error {
	s := r.URL.Query().Get("min_position")
	if s == "" {
		return nil
	}
	pos, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return domain.Errorf(domain.EInvalid, "min_position must be a non-negative integer, got %s", domain.QuoteShort(s))
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := a.m.Views.WaitPosition(ctx, pos); err != nil {
		return domain.Errorf(domain.EUnavailable, "the views have not reached position %d within 5s (at %d)", pos, a.m.Views.Position())
	}
	return nil
}

// healthz fails only for what a restart alone repairs: a NATS connection
// that NATS gave up on never comes back. One that is reconnecting does,
// and /readyz reports it meanwhile.
func (a *api) healthz(w http.ResponseWriter, _ *http.Request) {
	if gone := a.m.nats.gaveUp(); len(gone) > 0 {
		writeError(w, domain.Errorf(domain.EUnavailable, "NATS gave up on %s; ticketd must be restarted", strings.Join(gone, ", ")))
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (a *api) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	last, err := a.m.Log.LastSeq(ctx)
	if err != nil {
		writeError(w, domain.Errorf(domain.EUnavailable, "the log is not reachable"))
		return
	}
	if err := a.m.Views.WaitPosition(ctx, last); err != nil {
		writeError(w, domain.Errorf(domain.EUnavailable, "the views are behind the log (%d of %d)", a.m.Views.Position(), last))
		return
	}
	writeJSON(w, 200, map[string]any{"ok": true, "position": last})
}

func (a *api) now() time.Time { return a.m.now() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes the contract's error shape with the code's status.
func writeError(w http.ResponseWriter, err error) {
	code := domain.ErrorCode(err)
	status, ok := httpStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, engine.NewReply(engine.Result{}, err))
}
