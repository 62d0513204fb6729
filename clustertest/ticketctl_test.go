package clustertest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// loadSummary is the part of ticketctl load -json's summary the tests read.
type loadSummary struct {
	RunID         string           `json:"run_id"`
	Duration      float64          `json:"duration_seconds"`
	Attempted     int64            `json:"attempted"`
	Acked         int64            `json:"acked"`
	Failed        int64            `json:"failed"`
	FailedByCode  map[string]int64 `json:"failed_by_code"`
	EventsInLog   int              `json:"events_in_log"`
	Lost          int              `json:"lost"`
	Unconfirmed   int              `json:"unconfirmed"`
	Duplicated    int              `json:"duplicated"`
	Unexpected    int              `json:"unexpected"`
	ViewsMismatch int              `json:"views_mismatched"`
	FirstProblems []string         `json:"first_problems"`
}

// loadRun is ticketctl load running as a process.
type loadRun struct {
	proc *proc
}

// loadPlan is what a load run sends.
type loadPlan struct {
	duration  time.Duration
	producers int
	profiles  int
	mix       string
}

// startLoad runs ticketctl load with its bookkeeping against engine td,
// its commands over the cluster logged in with the API token, through the
// queue group to every engine.
func startLoad(t *testing.T, bin string, c *natsCluster, td *ticketd, token string, plan loadPlan) *loadRun {
	t.Helper()
	env := []string{"TICKETCTL_SERVER=" + td.url, "TICKETCTL_TOKEN=" + token}
	p := startProc(t, "ticketctl load", env, bin, "-json", "load", "-nats-url", c.PlainURLs(),
		"-producers", strconv.Itoa(plan.producers), "-duration", plan.duration.String(),
		"-profiles", strconv.Itoa(plan.profiles), "-mix", plan.mix)
	return &loadRun{proc: p}
}

// wait waits for the run to end and returns its summary and its exit
// error (ticketctl exits 1 when the bookkeeping finds a problem).
func (l *loadRun) wait(t *testing.T, timeout time.Duration) (loadSummary, error) {
	t.Helper()
	select {
	case <-l.proc.exited:
	case <-time.After(timeout):
		t.Fatalf("ticketctl load still running after %s", timeout)
	}
	var s loadSummary
	if err := json.Unmarshal([]byte(l.proc.stdout.String()), &s); err != nil {
		t.Fatalf("ticketctl load printed no summary (%v): %v\n%s", l.proc.cmd.ProcessState, err, l.proc.stderr.tail(8<<10))
	}
	var err error
	if !l.proc.cmd.ProcessState.Success() {
		err = fmt.Errorf("ticketctl load: %v", l.proc.cmd.ProcessState)
	}
	return s, err
}

// verifyResult is ticketctl -json views verify's output.
type verifyResult struct {
	Position    int64    `json:"position"`
	Differences []string `json:"differences"`
}

// viewsVerify runs ticketctl views verify against engine td: its live
// views against a fresh replay of the log.
func viewsVerify(t *testing.T, bin string, td *ticketd, token string) verifyResult {
	t.Helper()
	p := startProc(t, "ticketctl views verify "+td.name, []string{"TICKETCTL_SERVER=" + td.url, "TICKETCTL_TOKEN=" + token},
		bin, "-json", "views", "verify")
	select {
	case <-p.exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("ticketctl views verify on %s still running after 2m", td.name)
	}
	var v verifyResult
	if err := json.Unmarshal([]byte(p.stdout.String()), &v); err != nil {
		t.Fatalf("views verify on %s (%v): %v\n%s%s", td.name, p.cmd.ProcessState, err, p.stdout.String(), p.stderr.String())
	}
	return v
}

// positionRange says between which log positions the differences lie, to
// set them against the kill and the restart.
func positionRange(diffs []string) string {
	lo, hi := uint64(0), uint64(0)
	for _, d := range diffs {
		m := positionOf.FindStringSubmatch(d)
		if m == nil {
			continue
		}
		p, _ := strconv.ParseUint(m[1], 10, 64)
		if lo == 0 || p < lo {
			lo = p
		}
		hi = max(hi, p)
	}
	if lo == 0 {
		return ""
	}
	return fmt.Sprintf(", at positions %d to %d", lo, hi)
}

var positionOf = regexp.MustCompile(`position=(\d+)`)
