package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/domain"
)

// CommandSubjectPrefix is where producers send commands:
// tickets.cmd.<name>, as NATS requests.
const CommandSubjectPrefix = "tickets.cmd."

// commandQueue is the queue group of every engine instance: each request
// is handled by exactly one of them.
const commandQueue = "ticketd"

// Reply is the JSON answer to every command, over NATS and HTTP alike.
type Reply struct {
	OK        bool        `json:"ok"`
	TicketID  *string     `json:"ticket_id,omitempty"`
	ProfileID *string     `json:"profile_id,omitempty"`
	Outcome   string      `json:"outcome,omitempty"`
	Position  *uint64     `json:"position,omitempty"`
	Error     *ReplyError `json:"error,omitempty"`
}

// ReplyError is the error part of a failed Reply.
type ReplyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// NewReply builds the reply for a command's result or error.
func NewReply(res Result, err error) Reply {
	if err != nil {
		return Reply{Error: &ReplyError{Code: domain.ErrorCode(err), Message: domain.ErrorMessage(err)}}
	}
	pos := res.Position
	return Reply{OK: true, TicketID: nullable(res.TicketID), ProfileID: nullable(res.ProfileID), Outcome: res.Outcome, Position: &pos}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Handle authenticates, decodes and runs one command, whatever transport
// it came by. It never panics on bad input: everything malformed is an
// invalid_argument error.
func (e *Engine) Handle(ctx context.Context, authorization, name string, body []byte) (Result, error) {
	token, ok := strings.CutPrefix(strings.TrimSpace(authorization), "Bearer ")
	if !ok && authorization != "" {
		return Result{}, domain.Errorf(domain.EUnauthenticated, "the Authorization header must be \"Bearer <token>\"")
	}
	metricName := name
	if _, known := domain.CommandPermission(name); !known {
		// A label made of whatever name a caller sends would let anyone
		// grow the metric without bound.
		metricName = "unknown"
	}
	user, err := e.Authenticate(ctx, strings.TrimSpace(token))
	if err != nil {
		return Result{}, err
	}
	if perm, known := domain.CommandPermission(name); known {
		if err := user.Role.Authorize(perm, "send "+name); err != nil {
			e.cfg.Metrics.observeCommand(metricName, Result{}, err, 0)
			return Result{}, err
		}
	}
	cmd, err := domain.DecodeCommand(name, body)
	if err != nil {
		e.cfg.Metrics.observeCommand(metricName, Result{}, err, 0)
		return Result{}, err
	}
	return e.Execute(ctx, user, cmd)
}

// CommandServer answers command requests on tickets.cmd.<name>.
type CommandServer struct {
	engine   *Engine
	nc       *nats.Conn
	sub      *nats.Subscription
	logger   *slog.Logger
	timeout  time.Duration
	sem      chan struct{} // one slot per running worker
	work     chan *nats.Msg
	wg       sync.WaitGroup // one count per request not yet answered
	quit     chan struct{}  // closed by Drain: idle workers exit
	quitOnce sync.Once
}

// workerIdle is how long a command worker waits for another request
// before it exits. Workers outlive their request so that their stacks,
// grown by decoding and deciding, are not grown again for every request:
// that copying cost as much as the JSON decoding itself.
const workerIdle = 10 * time.Second

// ServeCommands subscribes to command requests with the engines' queue
// group. Requests run concurrently, up to maxInFlight at once, so that
// concurrent commands reach the group commit together.
func ServeCommands(e *Engine, nc *nats.Conn, maxInFlight int) (*CommandServer, error) {
	if maxInFlight <= 0 {
		maxInFlight = 4096
	}
	s := &CommandServer{engine: e, nc: nc, logger: e.cfg.Logger, timeout: 10 * time.Second,
		sem: make(chan struct{}, maxInFlight), work: make(chan *nats.Msg), quit: make(chan struct{})}
	sub, err := nc.QueueSubscribe(CommandSubjectPrefix+">", commandQueue, s.onMsg)
	if err != nil {
		return nil, fmt.Errorf("subscribe to commands: %w", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, fmt.Errorf("subscribe to commands: %w", err)
	}
	s.sub = sub
	return s, nil
}

// onMsg hands a request to an idle worker, or starts one more worker, or
// at the limit waits for a worker to be free.
func (s *CommandServer) onMsg(m *nats.Msg) {
	s.wg.Add(1)
	select {
	case s.work <- m:
	default:
		select {
		case s.sem <- struct{}{}:
			go s.worker(m)
		case s.work <- m:
		}
	}
}

func (s *CommandServer) worker(m *nats.Msg) {
	defer func() { <-s.sem }()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		s.handle(m)
		s.wg.Done()
		idle.Reset(workerIdle)
		select {
		case m = <-s.work:
		case <-idle.C:
			return
		case <-s.quit:
			return
		}
	}
}

func (s *CommandServer) handle(m *nats.Msg) {
	if !strings.HasPrefix(m.Reply, "_INBOX.") {
		// A reply goes out with the engine's own rights, so a reply
		// subject a client chose freely could reach the JetStream API.
		// Only request inboxes are answered; anything else is dropped.
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	name := strings.TrimPrefix(m.Subject, CommandSubjectPrefix)
	var res Result
	var err error
	if strings.Contains(name, ".") {
		err = domain.Errorf(domain.EInvalid, "unknown command %q", name)
	} else {
		res, err = s.engine.Handle(ctx, m.Header.Get("Authorization"), name, m.Data)
	}
	if err != nil && domain.ErrorCode(err) == domain.EInternal {
		s.logger.Error("command failed", "command", name, "err", err)
	}
	out, _ := json.Marshal(NewReply(res, err))
	if err := m.Respond(out); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		s.logger.Warn("could not send a command reply", "command", name, "err", err)
	}
}

// Drain stops taking new commands and waits for those in flight to be
// answered: the first step of a graceful shutdown.
func (s *CommandServer) Drain() {
	_ = s.sub.Unsubscribe()
	s.wg.Wait()
	s.quitOnce.Do(func() { close(s.quit) })
}
