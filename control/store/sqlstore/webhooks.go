package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"

	"github.com/h0p/h0p/control/store"
)

func (q queries) CreateWebhook(ctx context.Context, w store.Webhook) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO webhooks (id, org_id, url, description, events, scope, secret,
		previous_secret, previous_expires_at, disabled_at, disabled_reason, version, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING`,
		w.ID, w.OrgID, w.URL, w.Description, string(w.Events), nullJSON(w.Scope), w.Secret, nullBytes(w.PreviousSecret),
		nullMs(w.PreviousExpiresAt), nullMs(w.DisabledAt), w.DisabledReason, int64(w.Version), w.CreatedBy,
		ms(w.CreatedAt), ms(w.UpdatedAt))
	return inserted("insert webhook", 1, res, err)
}

const webhookSelect = `SELECT id, org_id, url, description, events, scope, secret, previous_secret,
	previous_expires_at, disabled_at, disabled_reason, version, created_by, created_at, updated_at FROM webhooks `

func scanWebhook(r rowScanner) (store.Webhook, error) {
	var (
		w                   store.Webhook
		events              string
		scope               sql.NullString
		prevExp, disabled   sql.NullInt64
		version, at, update int64
	)
	if err := r.Scan(&w.ID, &w.OrgID, &w.URL, &w.Description, &events, &scope, &w.Secret, &w.PreviousSecret,
		&prevExp, &disabled, &w.DisabledReason, &version, &w.CreatedBy, &at, &update); err != nil {
		return store.Webhook{}, scanErr("webhook", err)
	}
	w.Events, w.Scope = []byte(events), fromNullJSON(scope)
	w.PreviousExpiresAt, w.DisabledAt = fromNullMs(prevExp), fromNullMs(disabled)
	w.Version, w.CreatedAt, w.UpdatedAt = uint64(version), fromMs(at), fromMs(update)
	return w, nil
}

func (q queries) Webhook(ctx context.Context, orgID, id string) (store.Webhook, error) {
	return scanWebhook(q.db.QueryRowContext(ctx, webhookSelect+`WHERE org_id = $1 AND id = $2`, orgID, id))
}

func (q queries) Webhooks(ctx context.Context, f store.WebhookFilter) ([]store.Webhook, error) {
	rows, err := q.db.QueryContext(ctx, webhookSelect+`WHERE org_id = $1 AND id{C} > $2 ORDER BY id{C} LIMIT $3`,
		f.OrgID, f.AfterID, limit(f.Limit))
	return collect("webhooks", rows, err, scanWebhook)
}

func (q queries) CountWebhooks(ctx context.Context, orgID string) (int, error) {
	var n int
	if err := q.db.QueryRowContext(ctx, `SELECT count(*) FROM webhooks WHERE org_id = $1`, orgID).Scan(&n); err != nil {
		return 0, wrap("count webhooks", err)
	}
	return n, nil
}

func (q queries) UpdateWebhook(ctx context.Context, w store.Webhook) error {
	res, err := q.db.ExecContext(ctx, `UPDATE webhooks SET url = $1, description = $2, events = $3, scope = $4,
		secret = $5, previous_secret = $6, previous_expires_at = $7, disabled_at = $8, disabled_reason = $9,
		version = $10, updated_at = $11 WHERE org_id = $12 AND id = $13`,
		w.URL, w.Description, string(w.Events), nullJSON(w.Scope), w.Secret, nullBytes(w.PreviousSecret),
		nullMs(w.PreviousExpiresAt), nullMs(w.DisabledAt), w.DisabledReason, int64(w.Version), ms(w.UpdatedAt),
		w.OrgID, w.ID)
	return oneRow("update webhook", res, err)
}

func (q queries) DeleteWebhook(ctx context.Context, orgID, id string) error {
	// Its messages and their attempts go with it (ON DELETE CASCADE).
	res, err := q.db.ExecContext(ctx, `DELETE FROM webhooks WHERE org_id = $1 AND id = $2`, orgID, id)
	return oneRow("delete webhook", res, err)
}

func (q queries) EnabledWebhooks(ctx context.Context, event string) ([]store.Webhook, error) {
	// Events is a JSON array of strings written by encoding/json: the
	// event appears in it quoted. CAST reads a PostgreSQL JSON column as
	// its text; LIKE is a pre-filter (SQLite's ignores ASCII case).
	rows, err := q.db.QueryContext(ctx, webhookSelect+`WHERE disabled_at IS NULL AND CAST(events AS TEXT) LIKE $1
		ORDER BY id{C}`, "%"+strconv.Quote(event)+"%")
	return collect("enabled webhooks", rows, err, scanWebhook)
}

func (q queries) CreateWebhookMessage(ctx context.Context, m store.WebhookMessage) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO webhook_messages (id, webhook_id, org_id, event_id, event_type,
		payload, status, attempts, next_attempt_at, last_status_code, last_latency_ms, last_response, created_at,
		updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING`,
		m.ID, m.WebhookID, m.OrgID, m.EventID, m.EventType, string(m.Payload), m.Status, int64(m.Attempts),
		nullMs(m.NextAttemptAt), int64(m.LastStatusCode), m.LastLatency.Milliseconds(), nullBytes(m.LastResponse),
		ms(m.CreatedAt), ms(m.UpdatedAt))
	return inserted("insert webhook message", 1, res, err)
}

func (q queries) WebhookMessage(ctx context.Context, orgID, id string) (store.WebhookMessage, error) {
	return scanMessage(q.db.QueryRowContext(ctx, messageSelect+`WHERE m.org_id = $1 AND m.id = $2`, orgID, id))
}

func (q queries) UpdateWebhookMessage(ctx context.Context, m store.WebhookMessage) error {
	res, err := q.db.ExecContext(ctx, `UPDATE webhook_messages SET status = $1, attempts = $2, next_attempt_at = $3,
		last_status_code = $4, last_latency_ms = $5, last_response = $6, updated_at = $7 WHERE id = $8`,
		m.Status, int64(m.Attempts), nullMs(m.NextAttemptAt), int64(m.LastStatusCode), m.LastLatency.Milliseconds(),
		nullBytes(m.LastResponse), ms(m.UpdatedAt), m.ID)
	return oneRow("update webhook message", res, err)
}

func (q queries) AppendWebhookAttempt(ctx context.Context, a store.WebhookAttempt) error {
	res, err := q.db.ExecContext(ctx, `INSERT INTO webhook_attempts (message_id, attempt, at, status_code, latency_ms,
		response, error) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		a.MessageID, int64(a.Attempt), ms(a.At), int64(a.StatusCode), a.Latency.Milliseconds(), nullBytes(a.Response), a.Error)
	return inserted("insert webhook attempt", 1, res, err)
}

func (q queries) WebhookAttempts(ctx context.Context, messageID string) ([]store.WebhookAttempt, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT message_id, attempt, at, status_code, latency_ms, response, error
		FROM webhook_attempts WHERE message_id = $1 ORDER BY attempt`, messageID)
	return collect("webhook attempts", rows, err, func(r rowScanner) (store.WebhookAttempt, error) {
		var (
			a                    store.WebhookAttempt
			n, at, code, latency int64
		)
		if err := r.Scan(&a.MessageID, &n, &at, &code, &latency, &a.Response, &a.Error); err != nil {
			return store.WebhookAttempt{}, scanErr("webhook attempt", err)
		}
		a.Attempt, a.At, a.StatusCode, a.Latency = int(n), fromMs(at), int(code), time.Duration(latency)*time.Millisecond
		return a, nil
	})
}

// nullBytes stores empty bytes as NULL; they read back nil.
func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

const messageSelect = `SELECT m.id, m.webhook_id, m.org_id, m.event_id, m.event_type, m.payload, m.status, m.attempts,
	m.next_attempt_at, m.last_status_code, m.last_latency_ms, m.last_response, m.created_at, m.updated_at
	FROM webhook_messages m `

func scanMessage(r rowScanner) (store.WebhookMessage, error) {
	var (
		m                                   store.WebhookMessage
		payload                             string
		next                                sql.NullInt64
		attempts, code, latency, at, update int64
	)
	err := r.Scan(&m.ID, &m.WebhookID, &m.OrgID, &m.EventID, &m.EventType, &payload, &m.Status, &attempts, &next,
		&code, &latency, &m.LastResponse, &at, &update)
	if err != nil {
		return store.WebhookMessage{}, scanErr("webhook message", err)
	}
	m.Payload, m.Attempts, m.NextAttemptAt = []byte(payload), int(attempts), fromNullMs(next)
	m.LastStatusCode, m.LastLatency = int(code), time.Duration(latency)*time.Millisecond
	m.CreatedAt, m.UpdatedAt = fromMs(at), fromMs(update)
	return m, nil
}

func (q queries) DueWebhooks(ctx context.Context, now time.Time, n int) ([]string, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT m.webhook_id FROM webhook_messages m JOIN webhooks w ON w.id = m.webhook_id
		WHERE m.status IN ('pending', 'retrying') AND m.next_attempt_at <= $1 AND w.disabled_at IS NULL
		GROUP BY m.webhook_id ORDER BY min(m.id{C}) LIMIT $2`, ms(now), limit(n))
	return collect("due webhooks", rows, err, func(r rowScanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}

func (q queries) DueWebhookMessages(ctx context.Context, id string, now time.Time, n int) ([]store.WebhookMessage, error) {
	rows, err := q.db.QueryContext(ctx, messageSelect+`JOIN webhooks w ON w.id = m.webhook_id
		WHERE m.webhook_id = $1 AND m.status IN ('pending', 'retrying') AND m.next_attempt_at <= $2 AND w.disabled_at IS NULL
		ORDER BY m.id{C} LIMIT $3`, id, ms(now), limit(n))
	return collect("due webhook messages", rows, err, scanMessage)
}

func (q queries) CountDueWebhookMessages(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := q.db.QueryRowContext(ctx, `SELECT count(*) FROM webhook_messages m JOIN webhooks w ON w.id = m.webhook_id
		WHERE m.status IN ('pending', 'retrying') AND m.next_attempt_at <= $1 AND w.disabled_at IS NULL`,
		ms(now)).Scan(&n)
	if err != nil {
		return 0, wrap("count due webhook messages", err)
	}
	return n, nil
}

func (q queries) WebhookMessages(ctx context.Context, f store.WebhookMessageFilter) ([]store.WebhookMessage, error) {
	where := []string{"m.org_id = $1", "m.webhook_id = $2"}
	args := []any{f.OrgID, f.WebhookID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Status != "" {
		add("m.status = ?", f.Status)
	}
	if f.EventType != "" {
		add("m.event_type = ?", f.EventType)
	}
	if !f.From.IsZero() {
		add("m.created_at >= ?", ms(f.From))
	}
	if !f.Until.IsZero() {
		add("m.created_at < ?", ms(f.Until))
	}
	if f.BeforeID != "" {
		add("m.id{C} < ?", f.BeforeID)
	}
	args = append(args, limit(f.Limit))
	rows, err := q.db.QueryContext(ctx, messageSelect+"WHERE "+strings.Join(where, " AND ")+
		" ORDER BY m.id{C} DESC LIMIT $"+strconv.Itoa(len(args)), args...)
	return collect("webhook messages", rows, err, scanMessage)
}

func (q queries) RequeueWebhookMessages(ctx context.Context, orgID, webhookID string, from, until, now time.Time) (int, error) {
	res, err := q.db.ExecContext(ctx, `UPDATE webhook_messages SET status = 'pending', next_attempt_at = $1,
		updated_at = $1 WHERE org_id = $2 AND webhook_id = $3 AND event_type <> 'ping' AND created_at >= $4
		AND created_at < $5`, ms(now), orgID, webhookID, ms(from), ms(until))
	if err != nil {
		return 0, wrap("requeue webhook messages", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("requeue webhook messages", err)
	}
	return int(n), nil
}

func (q queries) WebhookFailingSince(ctx context.Context, webhookID string, after time.Time) (time.Time, error) {
	var lastOK sql.NullInt64
	err := q.db.QueryRowContext(ctx, `SELECT max(a.at) FROM webhook_attempts a
		JOIN webhook_messages m ON m.id = a.message_id
		WHERE m.webhook_id = $1 AND a.status_code >= 200 AND a.status_code < 300`, webhookID).Scan(&lastOK)
	if err != nil {
		return time.Time{}, wrap("webhook last success", err)
	}
	if lastOK.Valid && lastOK.Int64 > ms(after) {
		after = fromMs(lastOK.Int64)
	}
	var first sql.NullInt64
	err = q.db.QueryRowContext(ctx, `SELECT min(a.at) FROM webhook_attempts a
		JOIN webhook_messages m ON m.id = a.message_id WHERE m.webhook_id = $1 AND a.at > $2`,
		webhookID, ms(after)).Scan(&first)
	if err != nil {
		return time.Time{}, wrap("webhook failing since", err)
	}
	return fromNullMs(first), nil
}

func (q queries) PendingEvents(ctx context.Context, n int) ([]store.Event, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT id, org_id, type, resource_id, payload, created_at FROM events
		WHERE fanned_out_at IS NULL ORDER BY id{C} LIMIT $1`, limit(n))
	return collect("pending events", rows, err, func(r rowScanner) (store.Event, error) {
		var (
			e       store.Event
			payload sql.NullString
			at      int64
		)
		if err := r.Scan(&e.ID, &e.OrgID, &e.Type, &e.ResourceID, &payload, &at); err != nil {
			return store.Event{}, scanErr("event", err)
		}
		e.Payload, e.CreatedAt = fromNullJSON(payload), fromMs(at)
		return e, nil
	})
}

func (q queries) MarkEventsFannedOut(ctx context.Context, at time.Time, ids ...string) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := []any{ms(at)}
		marks := make([]string, n)
		for i, id := range ids[:n] {
			args = append(args, id)
			marks[i] = "$" + strconv.Itoa(i+2)
		}
		if _, err := q.db.ExecContext(ctx, `UPDATE events SET fanned_out_at = $1 WHERE id IN (`+
			strings.Join(marks, ", ")+`)`, args...); err != nil {
			return wrap("mark events fanned out", err)
		}
		ids = ids[n:]
	}
	return nil
}
