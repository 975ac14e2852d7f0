package kv

// ACMEAccountKey holds the ACME account's private key, sealed by control
// (shared/sealed, purpose ACMEAccountPurpose): the account every control
// node uses when it leads, registered once.
var ACMEAccountKey = []byte(prefixMeta + "acme-account")

// ACMEAccountPurpose is the shared/sealed purpose of the account key.
const ACMEAccountPurpose = "h0p acme account key"

// PutACMEAccount is a command that keeps the sealed account key.
func PutACMEAccount(sealedKey []byte) Command {
	return Command{Ops: []Op{{Type: OpPutACMEAccount, Sealed: append([]byte(nil), sealedKey...)}}}
}
