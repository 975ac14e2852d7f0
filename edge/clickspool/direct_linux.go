package clickspool

import "syscall"

const (
	oDirect = syscall.O_DIRECT // opens a file for direct I/O
	oDSync  = syscall.O_DSYNC  // each write returns once its data is durable
)
