// Package usage counts API requests per caller, so an org can review its
// API usage for unexpected activity: per API key (a signed-in user's
// requests per user), UTC day, route template ("POST /v1/links"; every
// unknown route is "* unmatched") and status class (2xx to 5xx), with the
// requests refused for the rate limit (429, also counted in 4xx) apart, the
// errors (4xx and 5xx) and the time of the last request.
//
// Contract:
//
//   - Record, on the request path, only adds to counters in memory under
//     one mutex: it never touches the store. The API calls it once a
//     request, from one middleware (control/api), after the answer.
//   - Flush moves the counters into the control store in one transaction
//     of upserts that add (store.AddAPIUsage); Run flushes every interval
//     (control: 10 s) and once more when it stops, at shutdown. A flush
//     that fails keeps its counts in memory for the next one. A crash
//     loses at most the counts of one interval; the counts of a flush
//     whose commit succeeded but reported an error would count twice.
//   - In cluster mode every control node counts the requests it answers
//     and flushes its own counts; the adding upserts make the sums right.
//     A write a follower forwards is counted once, by the leader, which
//     runs it (the follower never learns its caller).
//   - Reads flush this node's counters first, so a caller sees its own
//     requests at once; another node's show within its flush interval.
//   - Requests without a caller in an org are not counted: public routes
//     (login, password reset, invitations), refused credentials (invalid
//     key or session; an expired key is counted, as it was identified),
//     and a signed-in user of several orgs naming none. A request to no
//     route is counted ("* unmatched") when its credential names a caller.
//
// Intervals are 24h, 7d, 30d and 90d; since counts are per UTC day, an
// interval covers every day that overlaps it: from the day of now minus
// the interval to today, both included (24h is yesterday and today).
package usage
