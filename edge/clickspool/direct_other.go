//go:build !linux

package clickspool

// oDirect: direct I/O is used on Linux only.
const oDirect = 0
