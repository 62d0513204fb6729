package clustertest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// output collects what a child process writes, and wakes those waiting
// for a line in it.
type output struct {
	mu   sync.Mutex
	b    bytes.Buffer
	wake chan struct{} // closed at every write
}

func newOutput() *output { return &output{wake: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.wake)
	o.wake = make(chan struct{})
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// tail is the end of the output, for a failure report.
func (o *output) tail(n int) string {
	s := o.String()
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("[%d bytes before]\n%s", len(s)-n, s[len(s)-n:])
}

// match waits until re matches the output and returns its submatches;
// it gives up when the process exits or the timeout passes.
func (o *output) match(re *regexp.Regexp, exited <-chan struct{}, timeout time.Duration) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		m := re.FindStringSubmatch(o.b.String())
		wake := o.wake
		o.mu.Unlock()
		if m != nil {
			return m, nil
		}
		select {
		case <-wake:
		case <-exited:
			if m := re.FindStringSubmatch(o.String()); m != nil {
				return m, nil
			}
			return nil, errors.New("the process exited first")
		case <-deadline.C:
			return nil, fmt.Errorf("not within %s", timeout)
		}
	}
}

// proc is a child process of a test, reaped as soon as it exits.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *output
	exited         chan struct{}
}

// startProc starts bin with env added to the test's environment. The
// process is killed and reaped when the test ends, and its output is
// printed then if the test failed.
func startProc(t *testing.T, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), stdout: newOutput(), stderr: newOutput(), exited: make(chan struct{})}
	p.cmd.Env = append(inheritedEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	trackProc(t, p)
	t.Cleanup(func() {
		p.kill9(t)
		if t.Failed() {
			t.Logf("%s (pid %d) stdout:\n%s\n%s stderr:\n%s", name, p.cmd.Process.Pid, p.stdout.tail(8<<10), name, p.stderr.tail(32<<10))
		}
	})
	return p
}

// inheritedEnv is the test's environment without the variables the
// programs under test read (TICKETD_*, TICKETCTL_*, NATS_*), so that a
// developer's shell cannot change what a test runs.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TICKETD_") && !strings.HasPrefix(kv, "TICKETCTL_") && !strings.HasPrefix(kv, "NATS_") {
			env = append(env, kv)
		}
	}
	return env
}

// kill9 sends SIGKILL and waits until the process is reaped, so that its
// ports and its files are free again.
func (p *proc) kill9(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		return
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill -9 %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("%s (pid %d) still there 30s after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// running tells whether the process has not exited yet.
func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// procs are the processes started by each test, checked at its end.
var procs = struct {
	sync.Mutex
	byTest map[*testing.T][]*proc
}{byTest: map[*testing.T][]*proc{}}

// trackProc records p; the first call of a test registers the final
// check that every process it started is gone, which runs after every
// other cleanup of the test.
func trackProc(t *testing.T, p *proc) {
	procs.Lock()
	defer procs.Unlock()
	if _, ok := procs.byTest[t]; !ok {
		t.Cleanup(func() { checkNoneLeft(t) })
	}
	procs.byTest[t] = append(procs.byTest[t], p)
}

// checkNoneLeft fails the test if a process it started is still there,
// reaped or not.
func checkNoneLeft(t *testing.T) {
	procs.Lock()
	list := procs.byTest[t]
	delete(procs.byTest, t)
	procs.Unlock()
	for _, p := range list {
		if p.running() {
			t.Errorf("%s (pid %d) still running at the end of the test", p.name, p.cmd.Process.Pid)
			continue
		}
		if err := syscall.Kill(p.cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) exited but is still in the process table: %v", p.name, p.cmd.Process.Pid, err)
		}
	}
}
