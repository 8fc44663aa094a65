package temporalcodec

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ScanHistoryForSecret looks for secret in a workflow history exactly as the
// Temporal server stores it: payloads are searched as raw bytes, NOT decoded
// with the codec, and so is every other field (failure messages, search
// attributes, headers, identities, memo). It also looks for the secret's
// common encodings (standard and URL base64, hex), because a []byte secret
// marshals to base64 in JSON. It returns one line per hit naming the field
// path, e.g. "events[4].activity_task_completed_event_attributes.result
// .payloads[0].data (base64)", or nil when the history is clean. The canary
// test runs it on a history fetched from the server.
func ScanHistoryForSecret(history *historypb.History, secret []byte) []string {
	if history == nil || len(secret) == 0 {
		return nil
	}
	needles := encodings(secret)
	var hits []string
	walk(history.ProtoReflect(), "", needles, &hits)
	// Catch-all: anything the field walk could not see (unknown fields,
	// bytes of embedded messages) is still in the wire form.
	if len(hits) == 0 {
		if wire, err := proto.Marshal(history); err == nil {
			for _, n := range needles {
				if bytes.Contains(wire, n.b) {
					hits = append(hits, fmt.Sprintf("history wire bytes (%s)", n.name))
				}
			}
		}
	}
	return hits
}

type needle struct {
	name string
	b    []byte
}

func encodings(secret []byte) []needle {
	ns := []needle{{"raw", secret}}
	add := func(name, s string) {
		// Very short secrets encode to strings that match by chance.
		if len(s) < 8 {
			return
		}
		for _, n := range ns {
			if string(n.b) == s {
				return // base64url equals base64 when neither + nor / occurs
			}
		}
		ns = append(ns, needle{name, []byte(s)})
	}
	add("base64", strings.TrimRight(base64.StdEncoding.EncodeToString(secret), "="))
	add("base64url", strings.TrimRight(base64.URLEncoding.EncodeToString(secret), "="))
	add("hex", hex.EncodeToString(secret))
	return ns
}

func walk(m protoreflect.Message, path string, needles []needle, hits *[]string) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := string(fd.Name())
		if path != "" {
			p = path + "." + p
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				value(fd, l.Get(i), fmt.Sprintf("%s[%d]", p, i), needles, hits)
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				kp := fmt.Sprintf("%s[%q]", p, k.String())
				check([]byte(k.String()), kp+" (key)", needles, hits)
				value(fd.MapValue(), mv, kp, needles, hits)
				return true
			})
		default:
			value(fd, v, p, needles, hits)
		}
		return true
	})
}

func value(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string, needles []needle, hits *[]string) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		walk(v.Message(), path, needles, hits)
	case protoreflect.BytesKind:
		check(v.Bytes(), path, needles, hits)
	case protoreflect.StringKind:
		check([]byte(v.String()), path, needles, hits)
	}
}

func check(b []byte, path string, needles []needle, hits *[]string) {
	for _, n := range needles {
		if bytes.Contains(b, n.b) {
			*hits = append(*hits, fmt.Sprintf("%s (%s)", path, n.name))
		}
	}
}

// FindSecret reports in which encodings (raw, base64, base64url, hex) secret
// occurs in data: for the canary test's scans outside Temporal (NATS stream
// messages, log files, CLI output). Nil means not found.
func FindSecret(data, secret []byte) []string {
	if len(secret) == 0 {
		return nil
	}
	var found []string
	for _, n := range encodings(secret) {
		if bytes.Contains(data, n.b) {
			found = append(found, n.name)
		}
	}
	return found
}
