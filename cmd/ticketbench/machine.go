package main

import (
	"bufio"
	"os"
	"runtime"
	"strings"
)

// Machine is what a reader needs to compare a report with their own.
type Machine struct {
	CPUs     int    `json:"cpus"` // as nproc counts them: those this process may use
	CPUModel string `json:"cpu_model"`
	MemTotal string `json:"mem_total"` // as /proc/meminfo gives it
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
}

func readMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), CPUModel: "unknown", MemTotal: "unknown", Kernel: runtime.GOOS}
	m.CPUModel = procField("/proc/cpuinfo", "model name", m.CPUModel)
	m.MemTotal = procField("/proc/meminfo", "MemTotal", m.MemTotal)
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel += " " + strings.TrimSpace(string(b))
	}
	return m
}

// procField is the value of the first "key: value" line of a /proc file.
func procField(path, key, def string) string {
	f, err := os.Open(path)
	if err != nil {
		return def
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return def
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
