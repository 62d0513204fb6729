package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
)

const (
	// readyTimeout bounds a start, log replay included, and the views'
	// catch-up after a load: generous, since a million tickets take long.
	readyTimeout = 30 * time.Minute
	// stopTimeout is how long a SIGTERM has before SIGKILL.
	stopTimeout = 30 * time.Second
	// readyPoll is the resolution of the start and catch-up times.
	readyPoll = 5 * time.Millisecond
)

var httpLine = regexp.MustCompile(`HTTP on http://(\S+)`)

// ticketd is the process measured, started as shipped: embedded NATS,
// views and HTTP on.
type ticketd struct {
	bin, dataDir, logPath string
	natsAddr              string
	httpAddr              string // 127.0.0.1:0 until the first start prints the port
	token                 string
	debugAddr             string

	cmd    *exec.Cmd
	exited chan struct{}
}

// start starts ticketd, waits until /readyz answers 200, and returns the
// time from the start of the process to then.
func (d *ticketd) start(ctx context.Context) (time.Duration, error) {
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	args := []string{"-data-dir", d.dataDir, "-http", d.httpAddr, "-nats-listen", d.natsAddr}
	if d.debugAddr != "" {
		args = append(args, "-debug-addr", d.debugAddr)
	}
	cmd := exec.Command(d.bin, args...)
	cmd.Env = append(envWithout("TICKETD_"), "TICKETD_BOOTSTRAP_TOKEN="+d.token)
	cmd.Stderr = logf
	cmd.SysProcAttr = childAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return 0, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return 0, fmt.Errorf("start %s: %w", d.bin, err)
	}
	exited := make(chan struct{})
	d.cmd, d.exited = cmd, exited
	addr := make(chan string, 1)
	go func() {
		defer close(exited)
		defer logf.Close()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if m := httpLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(logf, stdout)
		_ = cmd.Wait()
	}()
	deadline := t0.Add(readyTimeout)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case d.httpAddr = <-addr:
	case <-d.exited:
		return 0, fmt.Errorf("ticketd exited before serving HTTP (%s); its log: %s\n%s", cmd.ProcessState, d.logPath, d.logTail())
	case <-timer.C:
		return 0, fmt.Errorf("ticketd did not serve HTTP within %s", readyTimeout)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if err := d.waitReady(ctx, deadline); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// waitReady polls /readyz until it answers 200.
func (d *ticketd) waitReady(ctx context.Context, deadline time.Time) error {
	c := &http.Client{Timeout: 5 * time.Second}
	url := "http://" + d.httpAddr + "/readyz"
	last := "no answer"
	for {
		res, err := c.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = res.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ticketd not ready within %s (last: %s)", readyTimeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.exited:
			return fmt.Errorf("ticketd exited (%s); its log: %s\n%s", d.cmd.ProcessState, d.logPath, d.logTail())
		case <-time.After(readyPoll):
		}
	}
}

// stop sends SIGTERM, then SIGKILL after stopTimeout, and waits for the
// exit. It returns the time until the exit and whether SIGKILL was needed.
func (d *ticketd) stop() (time.Duration, bool, error) {
	t0 := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, false, err
	}
	select {
	case <-d.exited:
		return time.Since(t0), false, nil
	case <-time.After(stopTimeout):
	}
	_ = d.cmd.Process.Kill()
	<-d.exited
	return time.Since(t0), true, nil
}

func (d *ticketd) running() bool {
	if d.exited == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

func (d *ticketd) pid() int { return d.cmd.Process.Pid }

// logTail is the end of ticketd's log, for an error message.
func (d *ticketd) logTail() string {
	b, _ := os.ReadFile(d.logPath)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// envWithout is this process's environment without the variables of a
// prefix, so that a developer's shell cannot change what is measured.
func envWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddr is a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
