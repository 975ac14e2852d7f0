//go:build !linux

package clickspool

import "os"

const (
	oDirect = 0         // direct I/O is used on Linux only
	oDSync  = os.O_SYNC // each write returns once durable
)
