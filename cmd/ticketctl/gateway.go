package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/ticketbus/ticketbus/webhooksig"
)

const (
	maxDelivery = 4 << 20 // bytes of one delivery body
	dedupWindow = 100_000 // event ids remembered for deduplication
	gatewayWait = 10 * time.Second
)

// gateway is the stand-in of spec section 7: it takes ReplySent
// deliveries, "sends" each reply by printing it, and reports it delivered.
type gateway struct {
	r       *runner
	now     func() time.Time
	ready   chan struct{} // closed once secret is set
	secret  string
	reports chan string // reply ids to report delivered, in arrival order

	out sync.Mutex // one line at a time on stdout and stderr

	mu    sync.Mutex
	seen  map[string]bool
	order []string // seen ids, oldest first
}

// delivery is the part of a webhook payload the gateway reads.
type delivery struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		ReplyID string `json:"reply_id"`
		Body    string `json:"body"`
		Channel string `json:"channel"`
		Phone   string `json:"phone"`
	} `json:"data"`
}

func newGateway(r *runner) *gateway {
	return &gateway{r: r, now: time.Now, ready: make(chan struct{}), reports: make(chan string, 1024), seen: map[string]bool{}}
}

func runGateway(r *runner, args []string) error {
	fs := r.newFlags("-listen ADDR [-public-url URL]")
	f := map[string]*string{
		"listen":     fs.String("listen", "", "address to take deliveries on, e.g. 127.0.0.1:9090 (required)"),
		"public-url": fs.String("public-url", "", "the URL ticketd reaches the gateway at (default http://ADDR/)"),
	}
	if _, err := r.parse(fs, args, 0); err != nil {
		return done(err)
	}
	if err := r.require(f, "listen"); err != nil {
		return err
	}
	if p := *f["public-url"]; p != "" {
		if u, err := url.Parse(p); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef(r.name, "-public-url %q is not an http:// or https:// URL", p)
		}
	}
	if r.client.token == "" {
		return usagef("", "no API token: give -token or set TICKETCTL_TOKEN")
	}
	ln, err := net.Listen("tcp", *f["listen"])
	if err != nil {
		return err
	}
	hookURL := *f["public-url"]
	if hookURL == "" {
		hookURL = localURL(ln.Addr())
	}
	g := newGateway(r)
	return g.run(ln, hookURL)
}

// run serves deliveries until r.ctx ends, with the webhook registered
// meanwhile; the server starts first so that no delivery finds it absent.
func (g *gateway) run(ln net.Listener, hookURL string) error {
	srv := &http.Server{Handler: g, ReadHeaderTimeout: gatewayWait, ReadTimeout: 3 * gatewayWait}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	// Reports outlive r.ctx a little, so that a reply printed just before
	// Ctrl-C is still reported.
	rctx, stopReports := context.WithCancel(context.WithoutCancel(g.r.ctx))
	defer stopReports()
	quit, reported := make(chan struct{}), make(chan struct{})
	go func() { g.reportLoop(rctx, quit); close(reported) }()

	id, err := g.register(hookURL, ln.Addr().String())
	if err == nil {
		g.logf("gateway listening on %s; webhook %s receives ReplySent at %s (Ctrl-C to stop)", ln.Addr(), id, hookURL)
		select {
		case <-g.r.ctx.Done():
		case err = <-served:
			err = fmt.Errorf("serving deliveries: %w", err)
		}
	}

	cctx, cancel := context.WithTimeout(context.WithoutCancel(g.r.ctx), gatewayWait)
	defer cancel()
	if id != "" {
		// Removed first, so that the engine stops sending to a gateway
		// about to go away.
		if _, rmErr := g.r.client.do(cctx, "DELETE", "/v1/webhooks/"+seg(id), nil, nil, true); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("webhook %s not removed (ticketctl webhooks remove %s): %w", id, id, rmErr))
		} else {
			g.logf("webhook %s removed", id)
		}
	}
	_ = srv.Shutdown(cctx)
	close(quit)
	select {
	case <-reported:
	case <-cctx.Done():
		stopReports()
		<-reported
	}
	return err
}

// register adds the gateway's webhook and keeps its secret.
func (g *gateway) register(hookURL, addr string) (string, error) {
	body := map[string]any{"url": hookURL, "events": []string{"ReplySent"}, "description": "ticketctl gateway on " + addr}
	// Not cut short by Ctrl-C: a webhook the engine created must be known
	// to be removed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.r.ctx), gatewayWait)
	defer cancel()
	raw, err := g.r.client.do(ctx, "POST", "/v1/webhooks", nil, body, true)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusForbidden {
		return "", fmt.Errorf("registering the gateway's webhook needs a token of role owner or admin: %w", err)
	}
	if err != nil {
		return "", fmt.Errorf("registering the gateway's webhook: %w", err)
	}
	var rep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil || rep.ID == "" || rep.Secret == "" {
		return rep.ID, fmt.Errorf("POST /v1/webhooks: reply without id and secret: %.200s", raw)
	}
	g.secret = rep.Secret
	close(g.ready)
	return rep.ID, nil
}

// localURL is the gateway's own URL when no -public-url is given; an
// unspecified host (":9090") is reached through the loopback.
func localURL(a net.Addr) string {
	host, port := "127.0.0.1", "0"
	if t, ok := a.(*net.TCPAddr); ok {
		if !t.IP.IsUnspecified() {
			host = t.IP.String()
		}
		port = strconv.Itoa(t.Port)
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// ServeHTTP takes one delivery. Status codes follow the relay's rules: a
// 2xx is success, 503 is retried, and any other 4xx is permanent.
func (g *gateway) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "deliveries are POSTed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, maxDelivery))
	if err != nil {
		http.Error(w, "body too large or cut short", http.StatusRequestEntityTooLarge)
		return
	}
	wait := time.NewTimer(gatewayWait)
	defer wait.Stop()
	select {
	case <-g.ready:
	case <-wait.C:
		http.Error(w, "not registered yet", http.StatusServiceUnavailable)
		return
	case <-req.Context().Done():
		return
	}
	// Checked before anything else is read, so an unsigned request cannot
	// even fill the deduplication window.
	if err := webhooksig.Verify(g.secret, req.Header.Get(webhooksig.SignatureHeader), body, g.now(), 0); err != nil {
		g.logf("refused a delivery from %s: %v", req.RemoteAddr, err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var d delivery
	if err := json.Unmarshal(body, &d); err != nil || d.ID == "" {
		http.Error(w, "not a delivery payload", http.StatusBadRequest)
		return
	}
	// The header is not signed; the body's id is, and they must agree.
	if h := req.Header.Get(webhooksig.EventIDHeader); h != "" && h != d.ID {
		http.Error(w, webhooksig.EventIDHeader+" differs from the payload's id", http.StatusBadRequest)
		return
	}
	if d.Type == "ReplySent" && d.Data.ReplyID == "" {
		http.Error(w, "ReplySent without data.reply_id", http.StatusBadRequest)
		return
	}
	if !g.claim(d.ID) {
		w.WriteHeader(http.StatusOK) // a repeat: done already
		return
	}
	if d.Type != "ReplySent" {
		g.logf("ignored event %s of type %s", clean(d.ID), clean(d.Type))
		w.WriteHeader(http.StatusOK)
		return
	}
	g.out.Lock()
	if g.r.json {
		g.r.printRaw(body)
	} else {
		fmt.Fprintf(g.r.stdout, "reply %s to %s %s: %s\n", clean(d.Data.ReplyID), clean(d.Data.Channel), clean(d.Data.Phone), clean(d.Data.Body))
	}
	g.out.Unlock()
	select {
	case g.reports <- d.Data.ReplyID:
		w.WriteHeader(http.StatusOK)
	case <-req.Context().Done():
		g.forget(d.ID) // not answered: the relay sends it again
	}
}

// claim records an event id and reports whether it was new.
func (g *gateway) claim(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen[id] {
		return false
	}
	g.seen[id] = true
	g.order = append(g.order, id)
	if len(g.order) > dedupWindow {
		delete(g.seen, g.order[0])
		g.order = g.order[1:]
	}
	return true
}

// forget drops an id claimed for a delivery that was not taken after all.
func (g *gateway) forget(id string) {
	g.mu.Lock()
	delete(g.seen, id)
	g.mu.Unlock()
}

// reportLoop reports replies one at a time, in the order they came, and
// on quit drains what is queued.
func (g *gateway) reportLoop(ctx context.Context, quit <-chan struct{}) {
	for {
		select {
		case id := <-g.reports:
			g.report(ctx, id)
		case <-quit:
			for {
				select {
				case id := <-g.reports:
					g.report(ctx, id)
				default:
					return
				}
			}
		}
	}
}

// report tells the engine a reply was delivered.
func (g *gateway) report(ctx context.Context, replyID string) {
	if err := reportReplyStatus(ctx, g.r.client, replyID, "delivered", ""); err != nil {
		g.logf("reply %s not reported delivered: %v", clean(replyID), err)
		return
	}
	g.logf("reply %s reported delivered", clean(replyID))
}

func (g *gateway) logf(format string, args ...any) {
	g.out.Lock()
	defer g.out.Unlock()
	fmt.Fprintf(g.r.stderr, format+"\n", args...)
}
