// Package evloop serves HTTP/1.1 from epoll event loops, as nginx's
// workers do: Config.Loops loops, each a goroutine with its own
// SO_REUSEPORT listening socket, reading, answering and writing every
// ready connection in turn with raw system calls the scheduler never sees.
// It owns the sockets (listen, accept, epoll, eventfds, the raw calls),
// request framing (edge/internal/framing), connection limits and timeouts
// (Listen), the balance of connections over the loops, and the drain on
// stop (Serve). It is Linux-only: elsewhere Supported is false and Listen
// fails.
//
// It knows what it serves through two functions (Config): Fast answers one
// whole framed request on the loop itself, or declines having changed
// nothing; it reads the raw bytes, so it takes only requests it reads for
// certain. Handler, a fasthttp handler, answers every request Fast
// declines, as fasthttp's own server would.
//
// Invariants:
//   - A connection's answers go out in the order its requests came.
//   - Neither function may block (a loop serves all its connections in
//     turn) or panic (a panic on a loop stops the process): the caller
//     recovers.
//   - Fast must not keep req, Conn.Date or the Conn beyond its call;
//     Conn.State is Fast's alone, and only ever touched on the loop.
//   - While the server stops (Conn.Stopping), every answer says
//     Connection: close.
package evloop
