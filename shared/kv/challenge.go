package kv

// Challenge is an ACME HTTP-01 answer: every edge answers
// GET /.well-known/acme-challenge/<Token> with KeyAuth, for any host it
// serves, so that the ACME server finds it on whichever edge a domain's DNS
// points at. KeyAuth is no secret (it proves control of a host only to the
// holder of the account key); control deletes it once the validation is
// over.
type Challenge struct {
	Token   string
	KeyAuth string
}

// Bounds of a challenge: ACME tokens are base64url, 128 bits or more.
const (
	MaxChallengeToken   = 128
	MaxChallengeKeyAuth = 256
)

// ChallengePath is the path prefix edges answer challenges on.
const ChallengePath = "/.well-known/acme-challenge/"

// PutChallenge is a command that publishes c.
func PutChallenge(c Challenge) Command {
	return Command{Ops: []Op{{Type: OpPutChallenge, Challenge: &c}}}
}

// DeleteChallenge is a command that removes the answer of token.
func DeleteChallenge(token string) Command {
	return Command{Ops: []Op{{Type: OpDeleteChallenge, Challenge: &Challenge{Token: token}}}}
}

// ChallengeKey is the key of token's answer.
func ChallengeKey(token string) []byte { return append([]byte(prefixChallenge), token...) }

// ValidChallengeToken reports whether token is one an ACME server issues:
// 1 to MaxChallengeToken base64url characters.
func ValidChallengeToken(token string) bool {
	if token == "" || len(token) > MaxChallengeToken {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validKeyAuth: "<token>.<thumbprint>", printable ASCII.
func validKeyAuth(s string) bool {
	if s == "" || len(s) > MaxChallengeKeyAuth {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
