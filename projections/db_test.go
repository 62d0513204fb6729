package projections

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestOpenSettings(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "views.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pragma := func(pool *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := pool.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	for _, c := range []struct {
		pool       *sql.DB
		name, want string
	}{
		{db.w, "journal_mode", "wal"},
		{db.w, "synchronous", "1"}, // NORMAL
		{db.w, "secure_delete", "1"},
		{db.w, "foreign_keys", "1"},
		{db.w, "busy_timeout", "5000"},
		{db.w, "user_version", "5"},
		{db.r, "journal_mode", "wal"},
		{db.r, "secure_delete", "1"},
		{db.r, "foreign_keys", "1"},
		{db.r, "query_only", "1"},
		{db.r, "mmap_size", "2000000000"},
	} {
		if got := pragma(c.pool, c.name); got != c.want {
			t.Errorf("%s = %s, want %s", c.name, got, c.want)
		}
	}
	if _, err := db.r.Exec(`INSERT INTO users (id, name, role) VALUES ('x', 'x', 'x')`); err == nil {
		t.Error("a reader connection could write")
	}
	rows, err := db.r.Query(`SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var name string
		var strict bool
		if err := rows.Scan(&name, &strict); err != nil {
			t.Fatal(err)
		}
		if !strict {
			t.Errorf("table %s is not STRICT", name)
		}
		n++
	}
	rows.Close()
	if n < 8 {
		t.Errorf("%d tables", n)
	}
	if _, err := db.w.Exec(`PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path); !errors.Is(err, ErrSchema) {
		t.Fatalf("opening a newer file: %v, want ErrSchema", err)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.workload(1)
	reg := prometheus.NewRegistry()
	v := e.openViews(filepath.Join(t.TempDir(), "views.db"), ProjectorConfig{Metrics: NewMetrics(reg), BatchSize: 4})
	e.sync(v)
	last := float64(e.last())
	metric := func(name string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			m := mf.GetMetric()[0]
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	if got := metric("ticketbus_projector_position"); got != last {
		t.Errorf("position %v, want %v", got, last)
	}
	if got := metric("ticketbus_projector_events_total"); got != last {
		t.Errorf("events %v, want %v", got, last)
	}
	if got := metric("ticketbus_projector_apply_seconds"); got < last/4 {
		t.Errorf("%v batches timed for %v events of batches of 4", got, last)
	}
	if got := metric("ticketbus_projector_lag_events"); got != 0 {
		t.Errorf("lag %v when caught up", got)
	}
	// Held between batches, the projector falls behind what the log holds,
	// and the once-a-second sample of the log shows it.
	resume := v.Projector().Pause()
	e.inbound("lagging", "hi")
	waitFor(t, "the lag to show", func() bool { return metric("ticketbus_projector_lag_events") >= 2 })
	resume()
	e.sync(v)
	waitFor(t, "the lag to clear", func() bool { return metric("ticketbus_projector_lag_events") == 0 })
}
