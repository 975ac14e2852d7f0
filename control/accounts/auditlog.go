package accounts

import (
	"context"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/store"
	"github.com/h0p/h0p/shared/apierror"
)

// AuditLogs returns a page of the org's audit log, newest first.
func (s *Service) AuditLogs(ctx context.Context, p access.Principal, f store.AuditFilter) ([]store.AuditEntry, error) {
	f.OrgID = p.OrgID
	if f.Limit <= 0 || f.Limit > 100 {
		return nil, apierror.Invalid("limit", "must be 1 to 100")
	}
	return s.Store.AuditLogs(ctx, f)
}
