package authz

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Namespace is the SSHSIG namespace of every runbook statement: a signature
// made for git commits, files or another tool never verifies here.
const Namespace = "runbook-control"

const (
	sshsigMagic   = "SSHSIG"
	sshsigVersion = 1
	sshsigHash    = "sha512"
	armorBegin    = "-----BEGIN SSH SIGNATURE-----"
	armorEnd      = "-----END SSH SIGNATURE-----"
)

// SignedData is the exact byte string an SSHSIG signature covers for
// message in Namespace (PROTOCOL.sshsig, "Signed Data"). A signer signs it
// with its ssh.Signer; ArmorSignature wraps the result.
func SignedData(message []byte) []byte {
	h := sha512.Sum512(message)
	var b bytes.Buffer
	b.WriteString(sshsigMagic)
	writeString(&b, []byte(Namespace))
	writeString(&b, nil) // reserved
	writeString(&b, []byte(sshsigHash))
	writeString(&b, h[:])
	return b.Bytes()
}

// ArmorSignature encodes pub and sig as an armored SSHSIG, the format
// `ssh-keygen -Y sign` writes.
func ArmorSignature(pub ssh.PublicKey, sig *ssh.Signature) string {
	var b bytes.Buffer
	b.WriteString(sshsigMagic)
	_ = binary.Write(&b, binary.BigEndian, uint32(sshsigVersion))
	writeString(&b, pub.Marshal())
	writeString(&b, []byte(Namespace))
	writeString(&b, nil)
	writeString(&b, []byte(sshsigHash))
	writeString(&b, ssh.Marshal(sig))
	enc := base64.StdEncoding.EncodeToString(b.Bytes())
	var out strings.Builder
	out.WriteString(armorBegin + "\n")
	for len(enc) > 70 {
		out.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	out.WriteString(enc + "\n" + armorEnd + "\n")
	return out.String()
}

// verifySSHSIG checks an armored SSHSIG over message and returns the public
// key that made it. Only ssh-ed25519 keys and the runbook namespace pass.
func verifySSHSIG(armored string, message []byte) (ssh.PublicKey, error) {
	s := strings.TrimSpace(armored)
	if !strings.HasPrefix(s, armorBegin) || !strings.HasSuffix(s, armorEnd) {
		return nil, errors.New("signature is not an armored SSH signature")
	}
	body := strings.Join(strings.Fields(strings.TrimSuffix(strings.TrimPrefix(s, armorBegin), armorEnd)), "")
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	if !bytes.HasPrefix(raw, []byte(sshsigMagic)) || len(raw) < len(sshsigMagic)+4 {
		return nil, errors.New("signature: not an SSHSIG blob")
	}
	r := raw[len(sshsigMagic):]
	if v := binary.BigEndian.Uint32(r); v != sshsigVersion {
		return nil, fmt.Errorf("signature: SSHSIG version %d", v)
	}
	r = r[4:]
	var fields [5][]byte
	for i := range fields {
		if fields[i], r, err = readString(r); err != nil {
			return nil, fmt.Errorf("signature: %w", err)
		}
	}
	if len(r) != 0 {
		return nil, errors.New("signature: trailing bytes")
	}
	pubBlob, ns, hashAlg, sigBlob := fields[0], string(fields[1]), string(fields[3]), fields[4]
	if ns != Namespace {
		return nil, fmt.Errorf("signature is for namespace %q, not %q", ns, Namespace)
	}
	pub, err := ssh.ParsePublicKey(pubBlob)
	if err != nil {
		return nil, fmt.Errorf("signature: public key: %w", err)
	}
	if pub.Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("signature: key type %s (only ssh-ed25519 keys are operators' keys)", pub.Type())
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(sigBlob, &sig); err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	var data []byte
	switch hashAlg {
	case "sha512":
		data = SignedData(message)
	default:
		return nil, fmt.Errorf("signature: hash %q (want sha512)", hashAlg)
	}
	if err := pub.Verify(data, &sig); err != nil {
		return nil, errors.New("signature does not verify")
	}
	return pub, nil
}

func writeString(b *bytes.Buffer, s []byte) {
	_ = binary.Write(b, binary.BigEndian, uint32(len(s)))
	b.Write(s)
}

func readString(b []byte) (s, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errors.New("truncated")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, errors.New("truncated")
	}
	return b[4 : 4+n], b[4+n:], nil
}

// ParsePublicKey parses one authorized_keys line ("ssh-ed25519 AAAA… comment").
func ParsePublicKey(line string) (ssh.PublicKey, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, fmt.Errorf("not an OpenSSH public key: %w", err)
	}
	if pub.Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("key type %s: operators' keys must be ssh-ed25519", pub.Type())
	}
	return pub, nil
}

// Fingerprint is the key's SHA256 fingerprint as `ssh-keygen -l` prints it.
func Fingerprint(pub ssh.PublicKey) string { return ssh.FingerprintSHA256(pub) }
