// Package natsapi is the NATS command transport: producers' requests on
// tickets.cmd.<name>, answered by the engine.
package natsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/ticketbus/ticketbus/domain"
	"github.com/ticketbus/ticketbus/engine"
)

// CommandSubjectPrefix is where producers send commands:
// tickets.cmd.<name>, as NATS requests.
const CommandSubjectPrefix = "tickets.cmd."

// commandQueue is the queue group of every engine instance: each request
// is handled by exactly one of them.
const commandQueue = "ticketd"

// CommandServer answers command requests on tickets.cmd.<name>.
type CommandServer struct {
	engine   *engine.Engine
	nc       *nats.Conn
	sub      *nats.Subscription
	logger   *slog.Logger
	timeout  time.Duration
	sem      chan struct{} // one slot per running worker
	work     chan *nats.Msg
	wg       sync.WaitGroup // one count per request not yet answered
	quit     chan struct{}  // closed by Drain: idle workers exit
	quitOnce sync.Once
	// unanswerableLog paces the log lines of refused commands.
	unanswerableLog logPace
}

// workerIdle is how long a command worker waits for another request
// before it exits. Workers outlive their request so that their stacks,
// grown by decoding and deciding, are not grown again for every request:
// that copying cost as much as the JSON decoding itself.
const workerIdle = 10 * time.Second

// ServeCommands subscribes to command requests with the engines' queue
// group. Requests run concurrently, up to maxInFlight at once, so that
// concurrent commands reach the group commit together.
func ServeCommands(e *engine.Engine, nc *nats.Conn, maxInFlight int) (*CommandServer, error) {
	if maxInFlight <= 0 {
		maxInFlight = 4096
	}
	s := &CommandServer{engine: e, nc: nc, logger: e.Logger(), timeout: 10 * time.Second,
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
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	// A reply goes out with the engine's own rights, so it must only
	// reach the user the command's token names: under their inbox prefix,
	// where no one else may subscribe. A command that cannot be answered
	// there is not run either: its producer could never learn whether it
	// was, nor safely resend it. It is counted and logged.
	user, err := s.engine.AuthenticateHeader(ctx, m.Header.Get("Authorization"))
	switch {
	case m.Reply == "":
		s.unanswerable("no_reply_subject", m.Subject)
		return
	case err != nil:
		s.unanswerable("unauthenticated", m.Subject)
		return
	case !strings.HasPrefix(m.Reply, InboxPrefix(user.ID)+"."):
		s.unanswerable("reply_not_the_senders_inbox", m.Subject)
		return
	}
	name := strings.TrimPrefix(m.Subject, CommandSubjectPrefix)
	var res engine.Result
	if strings.Contains(name, ".") {
		err = domain.Errorf(domain.EInvalid, "unknown command %q", name)
	} else {
		res, err = s.engine.HandleAs(ctx, user, name, m.Data)
	}
	if err != nil && domain.ErrorCode(err) == domain.EInternal {
		s.logger.Error("command failed", "command", name, "err", err)
	}
	out, _ := json.Marshal(engine.NewReply(res, err))
	if err := m.Respond(out); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		s.logger.Warn("could not send a command reply", "command", name, "err", err)
	}
}

func (s *CommandServer) unanswerable(reason, subject string) {
	s.engine.Metrics().Unanswerable(reason)
	s.logUnanswerable(reason, subject)
}

// logUnanswerable logs a refused command, at most once every ten seconds,
// so that a flood of them cannot flood the log.
func (s *CommandServer) logUnanswerable(reason, subject string) {
	if !s.unanswerableLog.allow() {
		return
	}
	s.logger.Warn("refused a command that cannot be answered; send commands as NATS requests carrying \"Authorization: Bearer <token>\", "+
		"from a connection whose inbox prefix is the token's nats_inbox_prefix (ticketbus_commands_unanswerable_total counts them all)",
		"reason", reason, "subject", subject)
}

// logPace lets one log line through every ten seconds, so that a client
// repeating a mistake cannot flood the log; a metric counts them all.
type logPace struct{ last atomic.Int64 }

func (p *logPace) allow() bool {
	now, last := time.Now().UnixNano(), p.last.Load()
	return now-last >= int64(10*time.Second) && p.last.CompareAndSwap(last, now)
}

// Drain stops taking new commands and waits for those in flight to be
// answered: the first step of a graceful shutdown.
func (s *CommandServer) Drain() {
	_ = s.sub.Unsubscribe()
	s.wg.Wait()
	s.quitOnce.Do(func() { close(s.quit) })
}
