package apns

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"

	"github.com/heraldhq/herald"
)

// ParseKey reads an APNs authentication key: the .p8 file Apple's
// developer account gives, a PEM "PRIVATE KEY" (PKCS #8) holding a P-256
// ECDSA key. A SEC 1 "EC PRIVATE KEY" is accepted too. The error never
// quotes the file.
func ParseKey(b []byte) (*ecdsa.PrivateKey, error) {
	bad := herald.Errorf(herald.EINVALID, "apns: the key must be a .p8 file: a PEM PRIVATE KEY holding a P-256 ECDSA key")
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, bad
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, bad
	}
	if err != nil {
		return nil, bad
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, bad
	}
	return ec, nil
}
