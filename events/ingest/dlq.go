package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
)

// Headers of a dead letter. The body is the original event body (redacted
// when it carried secret-looking fields; only a prefix when it was over
// breach.MaxEventBytes); original headers are kept except the Nats-* control
// headers, whose values move to Runbook-Dlq-Orig-*.
const (
	HeaderDlqReason    = "Runbook-Dlq-Reason"
	HeaderDlqError     = "Runbook-Dlq-Error"
	HeaderDlqSubject   = "Runbook-Dlq-Subject"
	HeaderDlqStream    = "Runbook-Dlq-Stream"
	HeaderDlqSeq       = "Runbook-Dlq-Stream-Seq"
	HeaderDlqDelivered = "Runbook-Dlq-Delivered"
	HeaderDlqTime      = "Runbook-Dlq-Time"
	HeaderDlqArrived   = "Runbook-Dlq-Arrived"
	HeaderDlqRedacted  = "Runbook-Dlq-Redacted"
	HeaderDlqOrigMsgID = "Runbook-Dlq-Orig-Msg-Id"
	// HeaderDlqTruncated is "true" when the body is only the first
	// DLQBodyPrefixBytes of the original; HeaderDlqBodySize and
	// HeaderDlqBodySHA256 then describe the whole original body, so the
	// publisher can still be asked for (and prove) the exact event.
	HeaderDlqTruncated  = "Runbook-Dlq-Truncated"
	HeaderDlqBodySize   = "Runbook-Dlq-Body-Size"
	HeaderDlqBodySHA256 = "Runbook-Dlq-Body-Sha256"
	// HeaderDlqHeadersDropped is "true" when the original headers were too
	// large to copy and were left out.
	HeaderDlqHeadersDropped = "Runbook-Dlq-Headers-Dropped"
)

// DLQBodyPrefixBytes is how much of an oversized body a dead letter keeps.
// A body within breach.MaxEventBytes is kept whole (it is an event someone
// may want to fix and republish); a larger one can never be processed, and
// copying it whole let one huge bad event take half a megabyte of the DLQ
// per copy. The prefix is enough to see what it was and who sent it.
const DLQBodyPrefixBytes = 4 << 10

// dlqMaxCopiedHeaderBytes bounds the original headers copied into a dead
// letter: a BREACH message may be all headers, up to MaxMessageBytes.
const dlqMaxCopiedHeaderBytes = 16 << 10

// deadLetterMsg is one message's dead letter for the DLQ stream, on
// dlq.<the breach subject the publisher used>, and its Nats-Msg-Id, derived
// from the source stream and sequence, so a crash between the publish and
// the ack does not write the dead letter twice.
func deadLetterMsg(msg jetstream.Msg, subject, publisher string, meta *jetstream.MsgMetadata, reason breach.Reason, errText string, now time.Time) (*nats.Msg, string) {
	out := nats.NewMsg(DLQPrefix + subject)
	out.Data = msg.Data()
	copyHeaders(out, msg.Headers())
	if reason == breach.ReasonSecretField {
		out.Data = redact(msg.Data())
		out.Header.Set(HeaderDlqRedacted, "true")
	}
	if body := msg.Data(); len(body) > breach.MaxEventBytes {
		sum := sha256.Sum256(body)
		out.Data = body[:DLQBodyPrefixBytes]
		// An oversized body was never parsed, so the secret-field check
		// never ran on it: a prefix naming a secret-looking field is
		// withheld rather than copied into the DLQ.
		if reason == breach.ReasonSecretField || prefixLooksSecret(out.Data) {
			out.Data = []byte(`{"redacted":"body withheld: it carried a secret-looking field"}`)
			out.Header.Set(HeaderDlqRedacted, "true")
		}
		out.Header.Set(HeaderDlqTruncated, "true")
		out.Header.Set(HeaderDlqBodySize, strconv.Itoa(len(body)))
		out.Header.Set(HeaderDlqBodySHA256, hex.EncodeToString(sum[:]))
		// First, so the header's 1 KiB cap never cuts it off.
		kept := fmt.Sprintf("its first %d", DLQBodyPrefixBytes)
		if out.Header.Get(HeaderDlqRedacted) != "" {
			kept = "nothing (secret-looking field in the prefix)"
		}
		errText = fmt.Sprintf("body truncated to %s of %d bytes (sha256 %x); %s", kept, len(body), sum, errText)
	}
	out.Header.Set(HeaderDlqReason, string(reason))
	out.Header.Set(HeaderDlqError, headerSafe(errText))
	out.Header.Set(HeaderDlqSubject, subject)
	if publisher != "" {
		out.Header.Set(HeaderDlqPublisher, publisher)
	}
	out.Header.Set(HeaderDlqTime, now.UTC().Format(time.RFC3339Nano))
	id := "dlq:" + fmt.Sprint(time.Now().UnixNano())
	if meta != nil {
		out.Header.Set(HeaderDlqStream, meta.Stream)
		out.Header.Set(HeaderDlqSeq, strconv.FormatUint(meta.Sequence.Stream, 10))
		out.Header.Set(HeaderDlqDelivered, strconv.FormatUint(meta.NumDelivered, 10))
		out.Header.Set(HeaderDlqArrived, meta.Timestamp.UTC().Format(time.RFC3339Nano))
		id = "dlq:" + meta.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	return out, id
}

// copyHeaders copies the original headers except Nats-* control headers
// (the original Nats-Msg-Id moves to Runbook-Dlq-Orig-Msg-Id), all or none:
// over dlqMaxCopiedHeaderBytes they are dropped and the drop is marked, so a
// dead letter always fits the DLQ's message cap.
func copyHeaders(out *nats.Msg, h nats.Header) {
	size := 0
	for k, vs := range h {
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	if v := h.Get("Nats-Msg-Id"); v != "" {
		out.Header.Set(HeaderDlqOrigMsgID, headerSafe(v))
	}
	if size > dlqMaxCopiedHeaderBytes {
		out.Header.Set(HeaderDlqHeadersDropped, "true")
		return
	}
	for k, vs := range h {
		if strings.HasPrefix(k, "Nats-") {
			continue
		}
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
}

// jsonKey matches a JSON object key in possibly cut-off JSON text.
var jsonKey = regexp.MustCompile(`"([^"\\]{1,128})"\s*:`)

// prefixLooksSecret reports whether a body prefix names a secret-looking
// field (breach.LooksSecret) anywhere.
func prefixLooksSecret(prefix []byte) bool {
	for _, m := range jsonKey.FindAllSubmatch(prefix, -1) {
		if breach.LooksSecret(string(m[1])) {
			return true
		}
	}
	return false
}

// headerSafe keeps a header value on one line and bounded.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}

// redact replaces the value of every secret-looking field with
// "[redacted]". Used only for secret_field refusals, whose body parsed.
func redact(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []byte(`{"redacted":"body withheld: it carried a secret-looking field"}`)
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				if breach.LooksSecret(k) {
					t[k] = "[redacted]"
				} else {
					t[k] = walk(x)
				}
			}
		case []any:
			for i, x := range t {
				t[i] = walk(x)
			}
		}
		return v
	}
	b, err := json.Marshal(walk(v))
	if err != nil {
		return []byte(`{"redacted":"body withheld: it carried a secret-looking field"}`)
	}
	return b
}
