// Package audit builds audit-log entries. Services call Entry inside the
// transaction of the change, so an entry exists exactly when the change does.
//
// The diff is compact: for a create only "after", for a delete only
// "before", for an update only the fields that changed, on both sides. What
// goes in is the object's API view, which never holds a secret (keys show
// their prefix, passwords and digests are not part of any view).
package audit

import (
	"encoding/json"
	"reflect"
	"time"

	"github.com/h0p/h0p/control/access"
	"github.com/h0p/h0p/control/ids"
	"github.com/h0p/h0p/control/store"
)

// Entry records that p did action on resource resType/resID at, with the
// object as it was (before, nil for a create) and as it is (after, nil for a
// delete).
func Entry(p access.Principal, orgID string, at time.Time, action, resType, resID string, before, after any) store.AuditEntry {
	return store.AuditEntry{
		ID: ids.New("aud", at), OrgID: orgID, At: at,
		ActorType: p.ActorType(), ActorID: p.ActorID(), KeyID: p.KeyID,
		Action: action, ResourceType: resType, ResourceID: resID,
		RequestID: p.RequestID, IP: p.IP,
		Diff: diff(before, after),
	}
}

// Object records a create (side "after") or a delete (side "before") of an
// object the caller has already encoded as JSON, without encoding it again.
func Object(p access.Principal, orgID string, at time.Time, action, resType, resID, side string, obj json.RawMessage) store.AuditEntry {
	e := Entry(p, orgID, at, action, resType, resID, nil, nil)
	d := make([]byte, 0, len(obj)+len(side)+5)
	d = append(append(append(append(d, `{"`...), side...), `":`...), obj...)
	e.Diff = append(d, '}')
	return e
}

func fields(v any) map[string]any {
	if isNil(v) {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func isNil(v any) bool {
	return v == nil || reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil()
}

func diff(before, after any) json.RawMessage {
	// A create or a delete records the whole object: marshal it once.
	if isNil(before) != isNil(after) {
		key, v := "after", after
		if isNil(after) {
			key, v = "before", before
		}
		raw, err := json.Marshal(map[string]any{key: v})
		if err != nil {
			return nil
		}
		return raw
	}
	b, a := fields(before), fields(after)
	if b != nil && a != nil {
		for k, v := range b {
			if reflect.DeepEqual(v, a[k]) {
				delete(b, k)
				delete(a, k)
			}
		}
	}
	out := map[string]any{}
	if b != nil {
		out["before"] = b
	}
	if a != nil {
		out["after"] = a
	}
	if len(out) == 0 {
		return nil
	}
	raw, _ := json.Marshal(out)
	return raw
}
