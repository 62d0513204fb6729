package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Report is everything one run measured, with where and how.
type Report struct {
	Command string  `json:"command"`
	Date    string  `json:"date"`
	Machine Machine `json:"machine"`
	Seconds float64 `json:"seconds"`
	// LoadAvg is the machine's load average when the run started: on a
	// shared machine, how much else was running.
	LoadAvg string         `json:"load_average_at_start"`
	Scale   []ScaleFigures `json:"scale,omitempty"`
	Storm   *StormFigures  `json:"storm,omitempty"`
}

// table is a markdown table with one column per run.
type table struct {
	head []string
	rows [][]string
}

func (t *table) add(name string, vals ...string) {
	t.rows = append(t.rows, append([]string{name}, vals...))
}

func (t *table) String() string {
	var b strings.Builder
	line := func(cells []string) { b.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
	b.WriteString("| ")
	line(t.head)
	b.WriteString(strings.Repeat("|---", len(t.head)+1) + "|\n")
	for _, r := range t.rows {
		line(r)
	}
	return b.String()
}

// Markdown is the report as printed.
func (r *Report) Markdown() string {
	var b strings.Builder
	kind := "scale"
	if r.Storm != nil {
		kind = "storm"
	}
	m := r.Machine
	fmt.Fprintf(&b, "## ticketbench %s\n\n", kind)
	fmt.Fprintf(&b, "- machine: %d CPUs (nproc), %s, MemTotal %s, %s, %s\n", m.CPUs, m.CPUModel, m.MemTotal, m.Kernel, m.Go)
	fmt.Fprintf(&b, "- date: %s, load average at the start %s\n- command: `%s`\n- took: %.0f s\n\n", r.Date, r.LoadAvg, r.Command, r.Seconds)
	if r.Storm != nil {
		b.WriteString(stormTable(*r.Storm).String())
	} else {
		b.WriteString(scaleTable(r.Scale).String())
	}
	return b.String()
}

func scaleTable(runs []ScaleFigures) *table {
	t := &table{}
	col := func(f func(s ScaleFigures) string) []string {
		out := make([]string, len(runs))
		for i, s := range runs {
			out[i] = f(s)
		}
		return out
	}
	t.head = col(func(s ScaleFigures) string { return num(int64(s.Tickets)) + " tickets" })
	t.add("first contacts acknowledged", col(func(s ScaleFigures) string {
		return fmt.Sprintf("%s of %s", num(s.Load.Acked), num(int64(s.Tickets)))
	})...)
	t.add("errors", col(func(s ScaleFigures) string { return codes(s.Load.Errors) })...)
	loadRows(t, len(runs), func(i int) LoadFigures { return runs[i].Load })
	t.add("raw baseline before / after", col(func(s ScaleFigures) string {
		return fmt.Sprintf("%s / %s msgs/s", rate(s.BaselineBefore.MsgsPerSec), rate(s.BaselineAfter.MsgsPerSec))
	})...)
	t.add("ticketd CPU during the baselines", col(func(s ScaleFigures) string {
		return secs(s.BaselineBefore.TicketdCPUSeconds) + " / " + secs(s.BaselineAfter.TicketdCPUSeconds)
	})...)
	t.add("**ratio** (acked/s ÷ mean baseline)", col(func(s ScaleFigures) string { return fmt.Sprintf("**%.2f×**", s.Ratio) })...)
	t.add("views caught up after the last ack", col(func(s ScaleFigures) string { return secs(s.ViewsCatchUpSeconds) })...)
	t.add("data directory after the load", col(func(s ScaleFigures) string { return mib(s.DataDirBytes) })...)
	for q := range runs[0].Queries {
		t.add(runs[0].Queries[q].Query+" p50 / p99", col(func(s ScaleFigures) string {
			qf := s.Queries[q]
			return lat(qf.Latency) + errNote(qf.Errors)
		})...)
	}
	for _, c := range coldCommands {
		t.add("cold "+c+" p50 / p99", col(func(s ScaleFigures) string { return lat(s.Cold.ByCommand[c]) })...)
	}
	t.add("cold commands' errors (tickets picked from)", col(func(s ScaleFigures) string {
		return fmt.Sprintf("%s (%s)", codes(s.Cold.Errors), num(int64(s.Cold.Pool)))
	})...)
	t.add("stop: SIGTERM to exit", col(func(s ScaleFigures) string {
		if s.Restart.Killed {
			return secs(s.Restart.StopSeconds) + ", SIGKILL needed"
		}
		return secs(s.Restart.StopSeconds)
	})...)
	t.add("restart: start to /readyz 200", col(func(s ScaleFigures) string { return secs(s.Restart.ReadySeconds) })...)
	t.add("RSS at ready / idle after", col(func(s ScaleFigures) string {
		return fmt.Sprintf("%s / %s (%.0f s)", mib(s.Restart.RSSReady), mib(s.Restart.RSSIdle), s.Restart.IdleSeconds)
	})...)
	t.add("first contacts sent again after the restart: first answer (R9)", col(func(s ScaleFigures) string {
		out := num(s.Repeats.Same) + " of " + num(s.Repeats.Sent)
		if len(s.Repeats.Errors) > 0 {
			out += ", " + codes(s.Repeats.Errors)
		}
		return out
	})...)
	return t
}

func stormTable(s StormFigures) *table {
	t := &table{head: []string{fmt.Sprintf("%s, %d producers", s.Mix, s.Load.Producers)}}
	t.add("attempted / acknowledged", num(s.Load.Attempted)+" / "+num(s.Load.Acked))
	t.add("errors", codes(s.Load.Errors))
	t.add("acknowledged by command", codes(s.Load.Commands))
	t.add("inbound outcomes", codes(s.Load.Outcomes))
	loadRows(t, 1, func(int) LoadFigures { return s.Load })
	t.add("raw baseline before / after", fmt.Sprintf("%s / %s msgs/s", rate(s.BaselineBefore.MsgsPerSec), rate(s.BaselineAfter.MsgsPerSec)))
	t.add("ticketd CPU during the baselines", secs(s.BaselineBefore.TicketdCPUSeconds)+" / "+secs(s.BaselineAfter.TicketdCPUSeconds))
	t.add("**ratio** (acked/s ÷ mean baseline)", fmt.Sprintf("**%.2f×**", s.Ratio))
	t.add("views caught up after the last ack", secs(s.ViewsCatchUpSeconds))
	return t
}

// loadRows are the rows common to both loads.
func loadRows(t *table, n int, load func(i int) LoadFigures) {
	col := func(f func(l LoadFigures) string) []string {
		out := make([]string, n)
		for i := range n {
			out[i] = f(load(i))
		}
		return out
	}
	t.add("load time", col(func(l LoadFigures) string { return secs(l.Seconds) })...)
	t.add("**acknowledged/s**", col(func(l LoadFigures) string { return "**" + rate(l.AckedPerSec) + "**" })...)
	t.add("latency p50 / p99 / max", col(func(l LoadFigures) string {
		return fmt.Sprintf("%.1f / %.1f / %.1f ms", l.Latency.P50, l.Latency.P99, l.Latency.Max)
	})...)
	t.add("acknowledged/s by tenth of the run", col(func(l LoadFigures) string {
		var parts []string
		for _, v := range l.Tenths {
			parts = append(parts, rate(v))
		}
		return strings.Join(parts, " · ")
	})...)
	t.add("ticketd CPU during the load", col(func(l LoadFigures) string {
		if l.Acked == 0 {
			return secs(l.TicketdCPUSeconds)
		}
		return fmt.Sprintf("%s (%.2f ms a command)", secs(l.TicketdCPUSeconds), 1000*l.TicketdCPUSeconds/float64(l.Acked))
	})...)
	t.add("ticketd RSS: start / peak / end of the load", col(func(l LoadFigures) string {
		return mib(l.RSSStart) + " / " + mib(l.RSSPeak) + " / " + mib(l.RSSEnd)
	})...)
}

// WriteFiles writes the markdown to out and the JSON beside it.
func (r *Report) WriteFiles(out string) error {
	if err := os.WriteFile(out, []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(jsonPath(out), append(b, '\n'), 0o644)
}

func outExt(out string) string { return filepath.Ext(out) }

// jsonPath is out with the extension .json.
func jsonPath(out string) string { return strings.TrimSuffix(out, outExt(out)) + ".json" }

func lat(l Latency) string {
	if l.N == 0 {
		return "none"
	}
	return fmt.Sprintf("%.2f / %.2f ms", l.P50, l.P99)
}

func errNote(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	return " (errors: " + codes(m) + ")"
}

// codes lists counts by name, the largest first.
func codes(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + num(m[k])
	}
	return strings.Join(parts, ", ")
}

func secs(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.1f s", s)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func rate(r float64) string { return num(int64(r + 0.5)) }

// num writes n with thousands separators.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}
