package sms

import (
	"fmt"
	"time"
)

// Step is what a page should do next.
type Step int

const (
	// StepSend: text Person (at Level) now.
	StepSend Step = iota
	// StepWait: the latest page is out and unanswered; look again after Wait.
	StepWait
	// StepDone: nothing more to do (answered, or sent without escalation).
	StepDone
	// StepExhausted: everyone in the chain was paged and nobody answered
	// (or nobody could be reached).
	StepExhausted
)

// Decision is Next's answer.
type Decision struct {
	Step   Step
	Person Person        // StepSend: who
	Level  int           // StepSend: Person's index in the chain
	Wait   time.Duration // StepWait: how long until the next look
	// Last is the most recent page, when there is one.
	Last   *SentRecord
	Reason string
}

// Next decides one move of a page over chain (the escalation order), given
// the pages already sent (by phone number), whether anyone answered, and
// the clock. It is pure, so the rule is tested without Twilio or Temporal:
//
//   - someone answered (ACK, APPROVE or DENY) → done;
//   - nobody paged yet → send to the first person;
//   - the latest page failed (number refused, or undelivered) → send to the
//     next person at once, whether escalating or not;
//   - not escalating → done once one page is out;
//   - escalating and the latest page is younger than ackTimeout → wait for
//     the rest of it; older → send to the next person;
//   - no next person → exhausted.
func Next(chain []Person, sent map[string]SentRecord, answered, escalate bool, ackTimeout time.Duration, now time.Time) Decision {
	if answered {
		return Decision{Step: StepDone, Last: latest(chain, sent), Reason: "answered"}
	}
	li := -1
	for i, p := range chain {
		if _, ok := sent[p.Phone]; ok {
			li = i
		}
	}
	if li < 0 {
		if len(chain) == 0 {
			return Decision{Step: StepExhausted, Reason: "nobody to page"}
		}
		return Decision{Step: StepSend, Person: chain[0], Level: 0}
	}
	last := sent[chain[li].Phone]
	next := func(reason string) Decision {
		if li+1 < len(chain) {
			return Decision{Step: StepSend, Person: chain[li+1], Level: li + 1, Last: &last, Reason: reason}
		}
		return Decision{Step: StepExhausted, Last: &last, Reason: reason + "; nobody left to page"}
	}
	switch {
	case last.Failed():
		return next(fmt.Sprintf("page to %s failed", last.Person))
	case !escalate:
		return Decision{Step: StepDone, Last: &last, Reason: "sent"}
	}
	if waited := now.Sub(last.SentAt); waited < ackTimeout {
		return Decision{Step: StepWait, Wait: ackTimeout - waited, Last: &last,
			Reason: fmt.Sprintf("waiting for %s to answer", last.Person)}
	}
	return next(fmt.Sprintf("no answer from %s within %s", last.Person, ackTimeout))
}

func latest(chain []Person, sent map[string]SentRecord) *SentRecord {
	var out *SentRecord
	for _, p := range chain {
		if r, ok := sent[p.Phone]; ok {
			out = &r
		}
	}
	return out
}
