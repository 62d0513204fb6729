package engine

import (
	"hash/fnv"
	"slices"
	"sync"
)

// stripes serializes this instance's commands per aggregate, so that two
// commands on one profile never decide against the same state. Striping
// bounds memory however many aggregates exist; an unrelated aggregate that
// shares a stripe only waits, it never conflicts.
type stripes [4096]sync.Mutex

// lock takes the stripes of the given subjects in a fixed order (so two
// commands never deadlock) and returns the function that releases them.
func (s *stripes) lock(subjects []string) func() {
	idx := make([]int, 0, len(subjects))
	for _, subj := range subjects {
		h := fnv.New32a()
		h.Write([]byte(subj))
		idx = append(idx, int(h.Sum32()%uint32(len(s))))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s[i].Lock()
	}
	return func() {
		for j := len(idx) - 1; j >= 0; j-- {
			s[idx[j]].Unlock()
		}
	}
}
