package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	gojwt "github.com/golang-jwt/jwt/v5"
)

// MinRSABits is the smallest RSA modulus a Key may have; smaller keys are
// refused when loaded rather than trusted. MaxRSABits is the largest: every
// token naming no kid is checked against each key, and a huge modulus would
// make each check slow.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// Key is one public verification key of a trusted issuer, and the kid that
// tokens name it by. Its type fixes the one algorithm it verifies: an RSA key
// RS256, a P-256 key ES256, an Ed25519 key EdDSA. No public key ever serves as
// an HMAC secret, which is what shuts out the RS/HS confusion attack.
type Key struct {
	// ID is the kid. A token naming a kid is checked against that key only;
	// a token naming none is checked against each key of its algorithm.
	ID string
	// Public is an *rsa.PublicKey, a P-256 *ecdsa.PublicKey or an
	// ed25519.PublicKey.
	Public crypto.PublicKey
}

// alg returns the one JWS algorithm k verifies, or "" for an unusable key.
func (k Key) alg() string {
	switch p := k.Public.(type) {
	case *rsa.PublicKey:
		if p.N != nil && p.N.BitLen() >= MinRSABits && p.N.BitLen() <= MaxRSABits {
			return gojwt.SigningMethodRS256.Alg()
		}
	case *ecdsa.PublicKey:
		if p.Curve == elliptic.P256() {
			return gojwt.SigningMethodES256.Alg()
		}
	case ed25519.PublicKey:
		if len(p) == ed25519.PublicKeySize {
			return gojwt.SigningMethodEdDSA.Alg()
		}
	}
	return ""
}

// checkKey reports why k cannot be used, or nil.
func checkKey(k Key) error {
	if k.alg() != "" {
		return nil
	}
	switch p := k.Public.(type) {
	case *rsa.PublicKey:
		return fmt.Errorf("RSA key %q has %d bits, not %d to %d", k.ID, p.N.BitLen(), MinRSABits, MaxRSABits)
	case *ecdsa.PublicKey:
		return fmt.Errorf("EC key %q is not on P-256", k.ID)
	}
	return fmt.Errorf("key %q is of an unsupported type %T (want RSA, P-256 or Ed25519)", k.ID, k.Public)
}

// hmacKeyID is the kid of an HS256 secret: a digest that names the secret
// without revealing it, so that a verifier holding the old and the new secret
// during a rotation picks the right one at once.
func hmacKeyID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("herald-hs256-kid\x00"))
	h.Write(secret)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// LoadPEMFiles reads public keys from PEM files: PKIX "PUBLIC KEY" blocks,
// PKCS#1 "RSA PUBLIC KEY" blocks or X.509 certificates. Each key's kid is
// its file's name without the extension (keys/2025-11.pem is kid "2025-11"),
// with "-2", "-3"... for further keys in one file.
func LoadPEMFiles(paths ...string) ([]Key, error) {
	var out []Key
	for _, path := range paths {
		data, err := readKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("public key file: %w", err)
		}
		kid := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		keys, err := ParsePEM(data, kid)
		if err != nil {
			return nil, fmt.Errorf("public key file %s: %w", path, err)
		}
		out = append(out, keys...)
	}
	return out, nil
}

// ParsePEM parses the public keys in data and names them kid, kid-2, ...
// Private keys are refused: a verifier has no business holding them.
func ParsePEM(data []byte, kid string) ([]Key, error) {
	var out []Key
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var pub crypto.PublicKey
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		default:
			return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %q: %w", block.Type, err)
		}
		k := Key{ID: kid, Public: pub}
		if len(out) > 0 {
			k.ID = fmt.Sprintf("%s-%d", kid, len(out)+1)
		}
		if err := checkKey(k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM public key found")
	}
	return out, nil
}

// MaxKeyFileBytes bounds a PEM or JWKS file, as maxJWKSBytes bounds a set
// fetched from a URL: a set of a hundred RSA keys is some 50 KiB.
const MaxKeyFileBytes = 1 << 20

// readKeyFile reads a key file of at most MaxKeyFileBytes.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxKeyFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxKeyFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxKeyFileBytes)
	}
	return data, nil
}

// LoadJWKSFile reads a JSON Web Key Set from a file.
func LoadJWKSFile(path string) ([]Key, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("JWKS file: %w", err)
	}
	keys, err := ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("JWKS file %s: %w", path, err)
	}
	return keys, nil
}

// jwk is one JSON Web Key (RFC 7517), with the members Herald reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
}

// ParseJWKS parses a JSON Web Key Set. Keys that cannot verify Herald's
// algorithms (encryption keys, symmetric keys, other curves, RSA under
// MinRSABits, a declared alg that disagrees with the key) are skipped; a
// private key, or a set with no usable key, is an error.
func ParseJWKS(data []byte) ([]Key, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	var out []Key
	for _, j := range set.Keys {
		if j.D != "" {
			return nil, fmt.Errorf("key %q is a private key", j.Kid)
		}
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		pub, err := j.public()
		if err != nil {
			continue
		}
		k := Key{ID: j.Kid, Public: pub}
		if a := k.alg(); a == "" || (j.Alg != "" && j.Alg != a) {
			continue
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no usable signing key in the set")
	}
	return out, nil
}

func (j jwk) public() (crypto.PublicKey, error) {
	b64 := base64.RawURLEncoding.DecodeString
	switch j.Kty {
	case "RSA":
		n, err1 := b64(j.N)
		e, err2 := b64(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 || len(n) > MaxRSABits/8 {
			return nil, fmt.Errorf("bad RSA key")
		}
		exp := new(big.Int).SetBytes(e)
		if !exp.IsInt64() || exp.Int64() < 3 || exp.Int64()%2 == 0 {
			return nil, fmt.Errorf("bad RSA exponent")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}, nil
	case "EC":
		if j.Crv != "P-256" {
			return nil, fmt.Errorf("unsupported curve")
		}
		x, err1 := b64(j.X)
		y, err2 := b64(j.Y)
		if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("bad EC key")
		}
		// Parse the uncompressed point, which checks it is on the curve.
		point := append(append([]byte{4}, x...), y...)
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil, err
		}
		return pk, nil
	case "OKP":
		x, err := b64(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("bad OKP key")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("unsupported key type")
}
