// Package evloop serves HTTP/1.1 from epoll event loops, as nginx's
// workers do: Config.Loops loops, each a goroutine with its own
// SO_REUSEPORT listening socket, reading, answering and writing every
// ready connection in turn with raw system calls the scheduler never sees.
// It owns the sockets (listen, accept, epoll, eventfds, the raw calls),
// request framing (edge/internal/framing), connection limits and
// timeouts, the balance of connections over the loops, and the drain on
// stop. It is Linux-only: elsewhere Supported is false and Listen fails.
//
// It knows what it serves through two functions (Config):
//
//   - Fast, the fast path, is given one whole request as framed (head and
//     body) and its connection, on the loop's goroutine. It appends a
//     complete response and says whether the connection closes after it,
//     or declines ("not mine") having changed nothing. It reads the raw
//     bytes itself, so it takes only requests it reads for certain.
//   - Handler, a fasthttp handler, answers every request Fast declines. It
//     gets a RequestCtx parsed from exactly the framed bytes (a request
//     fasthttp reads otherwise gets a 400 and the connection closes), and
//     its response is written as fasthttp's server writes it (Server and
//     Date headers, Connection: close or keep-alive, no body for HEAD).
//     GET and HEAD run on the loop; any other method (the password form:
//     argon2id takes milliseconds) on a goroutine of its own, and the
//     connection reads nothing more until that answer is written.
//
// Invariants:
//
//   - A connection's answers go out in the order its requests came.
//   - Neither function may block (a loop serves all its connections in
//     turn) or panic (a panic on a loop stops the process): the caller
//     recovers.
//   - Fast must not keep req, Conn.Date or the Conn beyond its call;
//     Conn.State is Fast's alone, and only ever touched on the loop.
//   - While the server stops (Conn.Stopping), every answer says
//     Connection: close.
//
// Limits, as fasthttp's server has them: a head up to framing.MaxHeader,
// a body up to framing.MaxBody (by Content-Length only: a chunked body
// gets 411); 10 s for a request to arrive once begun and for a response
// to leave, 60 s idle between requests; MaxConns connections across the
// loops, beyond which a new one gets a 503 and is closed. An HTTP/1.1
// request with Expect: 100-continue gets 100 Continue once its head is
// framed (413 instead for a body over the limit).
//
// Stopping (Serve's context ends): each loop takes the connections the
// kernel queued for it, closes its listener, answers what is in flight or
// already sent on a kept-alive connection with Connection: close, waits up
// to a second from its accept for the first request of a connection still
// silent (closing it would fail a request no client retries), and closes
// idle kept-alive connections, whose clients retry elsewhere; after the
// drain time whatever is left is closed.
package evloop
