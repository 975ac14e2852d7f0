package accounts

import (
	"context"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/page"
	"github.com/h0p/h0p/control/store"
)

// AuditLogs returns a page of the org's audit log, newest first.
func (s *Service) AuditLogs(ctx context.Context, p access.Principal, f store.AuditFilter) ([]store.AuditEntry, error) {
	f.OrgID = p.OrgID
	var err error
	if f.Limit, err = page.Limit(f.Limit); err != nil {
		return nil, err
	}
	return s.Store.AuditLogs(ctx, f)
}
