package evloop

import "github.com/valyala/fasthttp"

// Config is what a Server is given: all it knows of what it serves.
type Config struct {
	// Addr is host:port; with port 0 every loop listens on the port the
	// first one got.
	Addr string
	// Loops is how many event loops serve (at least one), each on a
	// goroutine that keeps its P while it has work: the caller chooses how
	// many Ps the process has beside them.
	Loops int
	// MaxConns bounds the connections across the loops; beyond it a new
	// one gets a 503 and is closed.
	MaxConns int
	// Name is the Server header of Handler's responses.
	Name string
	// Handler answers every request Fast declines. It gets a RequestCtx
	// parsed from exactly the framed bytes (a request fasthttp reads
	// otherwise gets a 400 and the connection closes), and its response is
	// written as fasthttp's server writes it (Server and Date headers,
	// Connection: close or keep-alive, no body for HEAD). GET and HEAD run
	// on the loop; any other method (the password form: argon2id takes
	// milliseconds) on a goroutine of its own, and the connection reads
	// nothing more until that answer is written.
	Handler fasthttp.RequestHandler
	// Fast answers the usual request on the loop itself; nil: Handler
	// answers every request.
	Fast FastPath
	// Logger is fasthttp's, for the RequestCtx Handler gets.
	Logger fasthttp.Logger
}

// FastPath answers a request on the loop itself, without fasthttp: req is
// one whole request as framed (framing.RequestSize: head and body), c its
// connection. It appends a complete response to dst and returns it,
// answered, and whether the connection closes after it (the response then
// says Connection: close, as it must while c.Stopping()); or it returns
// dst, false, and Handler answers the request. It runs on the loop's
// goroutine, so it must not block, and it must not keep req or c.Date().
type FastPath func(dst, req []byte, c *Conn) (out []byte, answered, closeAfter bool)
