package runbooks

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// FormatPlan writes a dry run as indented text, one step per block.
func FormatPlan(w io.Writer, steps []PlannedStep) error {
	var b strings.Builder
	top, child := 0, 0
	for _, p := range steps {
		indent, num := "", ""
		if p.Parent == "" {
			top++
			child = 0
			num = fmt.Sprintf("%d.", top)
		} else {
			child++
			indent = "   "
			num = fmt.Sprintf("%d.%d", top, child)
		}
		fmt.Fprintf(&b, "%s%s %s", indent, num, p.ID)
		if p.Name != "" {
			fmt.Fprintf(&b, " (%s)", p.Name)
		}
		switch p.Kind {
		case StepAction:
			fmt.Fprintf(&b, ": action %s [%s]", p.Action, orDash(string(p.SideEffect)))
		case StepParallel:
			b.WriteString(": parallel group")
		case StepApproval:
			fmt.Fprintf(&b, ": approval by %s", p.Approval.Group)
			if a := p.Approval; a.Require > 1 || a.SecondFactor != "" {
				b.WriteString(" (" + approvalRule(*a) + ")")
			}
		}
		switch p.WillRun {
		case WhenFalse:
			b.WriteString(" — SKIPPED (when is false)")
		case WhenUnknown:
			b.WriteString(" — runs if its condition holds at run time")
		}
		b.WriteString("\n")
		pad := indent + "     "
		if p.When != "" {
			fmt.Fprintf(&b, "%swhen: %s => %s\n", pad, p.When, p.WillRun)
		}
		keys := make([]string, 0, len(p.Params))
		for k := range p.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%swith %s = %s\n", pad, k, formatValue(p.Params[k]))
		}
		if a := p.Approval; a != nil {
			if a.Message != "" {
				fmt.Fprintf(&b, "%smessage: %s\n", pad, a.Message)
			}
			timeout := "none"
			if a.Timeout != 0 {
				timeout = shortDuration(a.Timeout)
			}
			fmt.Fprintf(&b, "%stimeout: %s, then %s\n", pad, timeout, a.OnTimeout)
		}
		if p.Kind != StepApproval {
			fmt.Fprintf(&b, "%son failure: %s", pad, p.OnFailure)
			if p.Timeout != 0 {
				fmt.Fprintf(&b, ", timeout %s", shortDuration(p.Timeout))
			}
			if r := p.Retry; r != nil {
				fmt.Fprintf(&b, ", retry %s", formatRetry(*r))
			}
			b.WriteString("\n")
		}
		if c := p.Compensation; c != nil {
			fmt.Fprintf(&b, "%scompensation: %s (declared by the %s)\n", pad, c.Action, p.CompensationFrom)
		}
		if p.Error != "" {
			fmt.Fprintf(&b, "%sERROR: %s\n", pad, p.Error)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func formatRetry(r Retry) string {
	var parts []string
	if r.MaxAttempts > 0 {
		parts = append(parts, fmt.Sprintf("max_attempts=%d", r.MaxAttempts))
	}
	if r.InitialInterval != 0 {
		parts = append(parts, "initial_interval="+shortDuration(r.InitialInterval))
	}
	if r.BackoffCoefficient != 0 {
		parts = append(parts, fmt.Sprintf("backoff=%g", r.BackoffCoefficient))
	}
	if r.MaxInterval != 0 {
		parts = append(parts, "max_interval="+shortDuration(r.MaxInterval))
	}
	if len(r.NonRetryable) > 0 {
		parts = append(parts, "non_retryable="+strings.Join(r.NonRetryable, ","))
	}
	if len(parts) == 0 {
		return "default"
	}
	return strings.Join(parts, " ")
}

// formatValue prints params as JSON so strings are quoted and maps sorted;
// HTML escaping is off so placeholders read "<steps.x.outputs.y>".
func formatValue(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortDuration prints 10m rather than 10m0s, and whole days as 30d.
func shortDuration(d Duration) string {
	const day = 24 * time.Hour
	if t := d.D(); t >= day && t%day == 0 {
		return fmt.Sprintf("%dd", t/day)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// approvalRule says who a gate needs beyond one approver of its group:
// "2 different approvers, each with a TOTP code".
func approvalRule(a Approval) string {
	var parts []string
	if a.Require > 1 {
		parts = append(parts, fmt.Sprintf("%d different approvers", a.Require))
	}
	switch a.SecondFactor {
	case "totp":
		parts = append(parts, "second factor: TOTP code")
	case "sms":
		parts = append(parts, "second factor: code texted to the approver")
	case "":
	default:
		parts = append(parts, "second factor: "+a.SecondFactor)
	}
	return strings.Join(parts, ", ")
}
