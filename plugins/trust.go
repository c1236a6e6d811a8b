package plugins

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"aead.dev/minisign"
)

// ErrUnsigned is wrapped by errors about a module that has no signature.
var ErrUnsigned = errors.New("plugin is unsigned")

// ErrUntrusted is wrapped by errors about a module signed by a key that is
// not in the trust store.
var ErrUntrusted = errors.New("plugin is signed by an untrusted key")

// ErrBadSignature is wrapped by errors about a signature that does not
// verify: the module or the signature was altered, or the signature is not
// a minisign signature. --allow-unsigned never overrides it.
var ErrBadSignature = errors.New("plugin signature does not verify")

// SystemTrustDir is the machine-wide trust store, beside the one in the data
// directory.
const SystemTrustDir = "/etc/kubeshark/trusted-keys"

// TrustedKey is one public key of the trust store.
type TrustedKey struct {
	// ID is the minisign key id, 16 upper-case hex digits.
	ID string `json:"id"`
	// Path is the file the key was read from.
	Path string `json:"path"`
	key  minisign.PublicKey
}

// TrustStore is the set of public keys whose signatures make a plugin
// trusted: every *.pub file (minisign public key format) in Dirs. A missing
// directory is an empty one.
type TrustStore struct {
	Dirs []string
}

// KeyID formats a minisign key id the way minisign prints it.
func KeyID(id uint64) string { return fmt.Sprintf("%016X", id) }

// Keys reads the trusted keys. A file that is not a public key is an error
// naming it: a trust store that silently skips keys would refuse plugins
// for reasons nobody can see.
func (t TrustStore) Keys() ([]TrustedKey, error) {
	var out []TrustedKey
	for _, dir := range t.Dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("trust store %s: %w", dir, err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".pub") {
				continue
			}
			path := filepath.Join(dir, e.Name())
			k, err := readPublicKey(path)
			if err != nil {
				return nil, fmt.Errorf("trust store: %w", err)
			}
			out = append(out, TrustedKey{ID: KeyID(k.ID()), Path: path, key: k})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func readPublicKey(path string) (minisign.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return minisign.PublicKey{}, fmt.Errorf("public key %s: %w", path, err)
	}
	var k minisign.PublicKey
	if err := k.UnmarshalText([]byte(strings.TrimSpace(string(b)))); err != nil {
		return minisign.PublicKey{}, fmt.Errorf("public key %s: not a minisign public key: %w", path, err)
	}
	return k, nil
}

// PublicKeyID returns the key id of a minisign public key in text form.
func PublicKeyID(text []byte) (string, error) {
	var k minisign.PublicKey
	if err := k.UnmarshalText([]byte(strings.TrimSpace(string(text)))); err != nil {
		return "", fmt.Errorf("not a minisign public key: %w", err)
	}
	return KeyID(k.ID()), nil
}

// SignatureKeyID returns the id of the key that made sig.
func SignatureKeyID(sig []byte) (string, error) {
	var s minisign.Signature
	if err := s.UnmarshalText(sig); err != nil {
		return "", fmt.Errorf("%w: not a minisign signature: %w", ErrBadSignature, err)
	}
	return KeyID(s.KeyID), nil
}

// Check verifies sig over code with the trusted keys and returns the key
// that made it. It fails with ErrUnsigned when sig is empty, ErrUntrusted
// when no trusted key has the signature's key id, and ErrBadSignature when
// the signature is malformed or does not match the bytes.
func (t TrustStore) Check(code, sig []byte) (TrustedKey, error) {
	if len(sig) == 0 {
		return TrustedKey{}, ErrUnsigned
	}
	id, err := SignatureKeyID(sig)
	if err != nil {
		return TrustedKey{}, err
	}
	keys, err := t.Keys()
	if err != nil {
		return TrustedKey{}, err
	}
	for _, k := range keys {
		if k.ID != id {
			continue
		}
		if !minisign.Verify(k.key, code, sig) {
			return TrustedKey{}, fmt.Errorf("%w: the signature by key %s (%s) does not match the module's bytes: the module or its signature was altered (rebuilt since it was signed? sign it again with kubeshark plugin sign)", ErrBadSignature, id, k.Path)
		}
		return k, nil
	}
	return TrustedKey{}, fmt.Errorf("%w: signed by key %s, which is in none of %s (add it with `kubeshark plugin trust KEY.pub`; in a cluster, the chart value plugins.trustedKeys)", ErrUntrusted, id, strings.Join(t.Dirs, ", "))
}

// VerifyWithKey checks sig over code with the public key in pubPath,
// outside the trust store (`plugin verify --key`).
func VerifyWithKey(pubPath string, code, sig []byte) (string, error) {
	k, err := readPublicKey(pubPath)
	if err != nil {
		return "", err
	}
	if len(sig) == 0 {
		return "", ErrUnsigned
	}
	id, err := SignatureKeyID(sig)
	if err != nil {
		return "", err
	}
	if id != KeyID(k.ID()) {
		return "", fmt.Errorf("%w: signed by key %s, not by %s (%s)", ErrBadSignature, id, KeyID(k.ID()), pubPath)
	}
	if !minisign.Verify(k, code, sig) {
		return "", fmt.Errorf("%w: the signature by key %s does not match the module's bytes: the module or its signature was altered", ErrBadSignature, id)
	}
	return id, nil
}

// GenerateKey makes a minisign key pair in text form. The private key is
// encrypted with password unless password is empty.
func GenerateKey(password string) (pub, priv []byte, id string, err error) {
	p, s, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, "", fmt.Errorf("generating a key: %w", err)
	}
	pub, err = p.MarshalText()
	if err != nil {
		return nil, nil, "", err
	}
	if password == "" {
		priv, err = s.MarshalText()
	} else {
		priv, err = minisign.EncryptKey(password, s)
	}
	if err != nil {
		return nil, nil, "", err
	}
	return append(pub, '\n'), append(priv, '\n'), KeyID(p.ID()), nil
}

// ReadPrivateKey reads a minisign private key, decrypting it with password
// when it is encrypted.
func ReadPrivateKey(path, password string) (minisign.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return minisign.PrivateKey{}, fmt.Errorf("private key %s: %w", path, err)
	}
	if minisign.IsEncrypted(b) {
		if password == "" {
			return minisign.PrivateKey{}, fmt.Errorf("private key %s is encrypted: set its password in $%s", path, PasswordEnv)
		}
		k, err := minisign.DecryptKey(password, b)
		if err != nil {
			return minisign.PrivateKey{}, fmt.Errorf("private key %s: %w (wrong password?)", path, err)
		}
		return k, nil
	}
	var k minisign.PrivateKey
	if err := k.UnmarshalText(b); err != nil {
		return minisign.PrivateKey{}, fmt.Errorf("private key %s: not a minisign private key: %w", path, err)
	}
	return k, nil
}

// PasswordEnv names the environment variable that holds a private key's
// password for keygen and sign.
const PasswordEnv = "KUBESHARK_PLUGIN_KEY_PASSWORD"

// Sign signs the exact bytes of a module. file is recorded in the signed
// (trusted) comment, as minisign does.
func Sign(k minisign.PrivateKey, code []byte, file string) []byte {
	trusted := "timestamp:" + strconv.FormatInt(time.Now().Unix(), 10) + "\tfile:" + filepath.Base(file)
	return minisign.SignWithComments(k, code, trusted, "signature from kubeshark plugin key "+KeyID(k.ID()))
}
