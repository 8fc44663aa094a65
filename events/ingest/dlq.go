package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyresponse/runbook/events/breach"
)

// Headers of a dead letter. The body is the original event body (redacted
// when it carried secret-looking fields); original headers are kept except
// the Nats-* control headers, whose values move to Runbook-Dlq-Orig-*.
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
)

// deadLetter writes one message to the DLQ stream. Its Nats-Msg-Id is
// derived from the source stream sequence, so a crash between this publish
// and the ack does not write the dead letter twice.
func deadLetter(ctx context.Context, js jetstream.JetStream, msg jetstream.Msg, meta *jetstream.MsgMetadata, reason breach.Reason, errText string, now time.Time) error {
	out := nats.NewMsg(DLQPrefix + msg.Subject())
	out.Data = msg.Data()
	for k, vs := range msg.Headers() {
		if strings.HasPrefix(k, "Nats-") {
			if k == "Nats-Msg-Id" && len(vs) > 0 {
				out.Header.Set(HeaderDlqOrigMsgID, vs[0])
			}
			continue
		}
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
	if reason == breach.ReasonSecretField {
		out.Data = redact(msg.Data())
		out.Header.Set(HeaderDlqRedacted, "true")
	}
	out.Header.Set(HeaderDlqReason, string(reason))
	out.Header.Set(HeaderDlqError, headerSafe(errText))
	out.Header.Set(HeaderDlqSubject, msg.Subject())
	out.Header.Set(HeaderDlqTime, now.UTC().Format(time.RFC3339Nano))
	id := "dlq:" + fmt.Sprint(time.Now().UnixNano())
	if meta != nil {
		out.Header.Set(HeaderDlqStream, meta.Stream)
		out.Header.Set(HeaderDlqSeq, strconv.FormatUint(meta.Sequence.Stream, 10))
		out.Header.Set(HeaderDlqDelivered, strconv.FormatUint(meta.NumDelivered, 10))
		out.Header.Set(HeaderDlqArrived, meta.Timestamp.UTC().Format(time.RFC3339Nano))
		id = "dlq:" + meta.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	_, err := js.PublishMsg(ctx, out, jetstream.WithMsgID(id), jetstream.WithExpectStream(StreamDLQ))
	return err
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
