package main

import (
	"runtime"
	"sync"

	"github.com/h0p/h0p/edge"
)

var spareP struct {
	once  sync.Once
	loops int
}

// edgeLoops is for a process whose main work is an edge (h0p edge, h0p
// dev): it returns how many event loops the edge runs, one per P the
// runtime has at the first call (GOMAXPROCS: the CPUs, or the container's
// limit), and raises GOMAXPROCS by one, once per process.
//
// A busy loop keeps its P for as long as it has sockets to serve (its
// system calls are raw, edge/internal/evloop), so with a loop on every P
// the rest of the process (raft's applies, the admin server, the click
// shipper, in dev the control plane) ran only when the runtime preempted a
// loop, every 10 ms, and reached the network only through the runtime's
// monitor thread's poll, also every 10 ms. The spare P is always free for
// them, and an idle loop that blocks leaves its P alone (the runtime hands
// on the P of a thread in a system call only when no P is idle), so waking
// costs less. The operating system still shares the CPUs among all the
// threads. Setting GOMAXPROCS stops the runtime following a container's
// CPU limit as it changes; restart the edge after changing the limit.
//
// Outside Linux the edge has no event loops: 0 (the edge's default), and
// GOMAXPROCS is left alone.
func edgeLoops() int {
	spareP.once.Do(func() {
		if !edge.EventLoopsSupported {
			return
		}
		spareP.loops = runtime.GOMAXPROCS(0)
		runtime.GOMAXPROCS(spareP.loops + 1)
	})
	return spareP.loops
}
