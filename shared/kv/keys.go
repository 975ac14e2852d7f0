package kv

// Key prefixes. Every key in the edge database starts with one of them.
const (
	prefixLink        = "l/"
	prefixLinkState   = "i/"
	prefixMeta        = "m/"
	prefixNode        = "n/"
	prefixDomain      = "d/"
	prefixSalt        = "s/"
	prefixChallenge   = "a/"
	prefixCertificate = "c/"
	prefixCertFailure = "f/"
)

// AppendDomainKey appends the key of domain host's record to b.
func AppendDomainKey(b, host []byte) []byte {
	return append(append(b, prefixDomain...), host...)
}

// AppliedIndexKey holds the last raft index the FSM applied.
var AppliedIndexKey = []byte(prefixMeta + "applied")

// LinkCountKey holds how many link records the store has (8 bytes, big
// endian), kept by the FSM in the same batch as the records.
var LinkCountKey = []byte(prefixMeta + "links")

// NodeKey is the key of a cluster node's record.
func NodeKey(id string) []byte { return append([]byte(prefixNode), id...) }

// NodeKeyLowerBound and NodeKeyUpperBound bound the node records.
var (
	NodeKeyLowerBound = []byte(prefixNode)
	NodeKeyUpperBound = []byte("n0")
)

// AppendLinkKey appends the key of the link at host+slug to b. host must be
// normalised (lowercase, no port). Passing a stack buffer keeps lookups free
// of allocations.
func AppendLinkKey(b []byte, host, slug []byte) []byte {
	b = append(b, prefixLink...)
	b = append(b, host...)
	b = append(b, 0)
	return append(b, slug...)
}

// LinkKey is AppendLinkKey for strings, for writers.
func LinkKey(host, slug string) []byte {
	return AppendLinkKey(make([]byte, 0, len(prefixLink)+len(host)+1+len(slug)), []byte(host), []byte(slug))
}

// LinkStateKey is the key of the state row of a link ID.
func LinkStateKey(id string) []byte {
	return AppendLinkStateKey(make([]byte, 0, len(prefixLinkState)+len(id)), id)
}

// AppendLinkStateKey appends the state-row key of id to b.
func AppendLinkStateKey(b []byte, id string) []byte {
	return append(append(b, prefixLinkState...), id...)
}

// LinkStateKeyUpperBound is above every state-row key.
var LinkStateKeyUpperBound = []byte("i0") // '0' is the byte after '/'

// IsLinkKey reports whether key is a link record key.
func IsLinkKey(key []byte) bool {
	return len(key) >= len(prefixLink) && string(key[:len(prefixLink)]) == prefixLink
}

// LinkKeyUpperBound is an exclusive upper bound for iterating link records.
var LinkKeyUpperBound = []byte("l0") // '0' is the byte after '/'

// LinkKeyLowerBound is the inclusive lower bound for iterating link records.
var LinkKeyLowerBound = []byte(prefixLink)
