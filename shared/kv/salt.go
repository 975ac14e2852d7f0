package kv

import (
	"encoding/binary"
	"time"
)

// Salt is the secret that edges hash visitors' addresses with on one UTC
// day: one visitor is one visitor across edges within the day, and cannot
// be followed from one day to the next once the day's salt is gone. The
// FSM keeps the first salt applied for a day (a second, from a leader that
// did not see the first, changes nothing) and deletes the salts of days
// before yesterday.
type Salt struct {
	Day   int64 // days since 1970-01-01 UTC
	Value [32]byte
}

// maxSaltDay bounds Salt.Day (the year 9999).
const maxSaltDay = 2_932_896

// SaltDay is the day of t, as Salt.Day counts it.
func SaltDay(t time.Time) int64 { return t.Unix() / 86400 }

// PutSalt is a command that sets s unless its day has a salt.
func PutSalt(s Salt) Command { return Command{Ops: []Op{{Type: OpPutSalt, Salt: &s}}} }

// SaltKey is the key of day's salt; keys sort by day.
func SaltKey(day int64) []byte { return binary.BigEndian.AppendUint64([]byte(prefixSalt), uint64(day)) }

// SaltKeyLowerBound is the inclusive lower bound of the salt keys.
var SaltKeyLowerBound = []byte(prefixSalt)
